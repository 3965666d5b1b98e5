package server

import "golang.org/x/sys/unix"

// The termios ioctls differ by name between Linux and the BSDs.
const ioctlGetTermios, ioctlSetTermios = unix.TIOCGETA, unix.TIOCSETA
