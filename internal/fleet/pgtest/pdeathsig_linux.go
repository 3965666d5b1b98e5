package pgtest

import "syscall"

// setParentDeathSignal has the kernel stop postgres (SIGQUIT: immediate shutdown) when the
// test binary dies without running Main's cleanup, e.g. on a test timeout's panic or kill -9.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGQUIT }
