//go:build !linux && !darwin

package server

import "os"

// echoOff is not available here: the password is read as typed.
func echoOff(*os.File) (restore func(), ok bool) { return nil, false }
