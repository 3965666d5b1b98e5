//go:build linux || darwin

package server

import (
	"os"

	"golang.org/x/sys/unix"
)

// echoOff turns off the echo of the terminal f, if it is one, and returns what restores it;
// ok is false when f is not a terminal (a pipe or a file), which is then read as it is.
func echoOff(f *os.File) (restore func(), ok bool) {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil, false
	}
	old := *t
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON // still one line at a time, with the line editing the user expects
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, t); err != nil {
		return nil, false
	}
	return func() { unix.IoctlSetTermios(fd, ioctlSetTermios, &old) }, true
}
