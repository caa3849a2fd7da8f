//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// takeTerminal makes `imagepipe dev` under make (MAKELEVEL set, stdin a
// terminal) the terminal's foreground process group, so that Ctrl-C
// interrupts it alone: it drains and exits 0, and so does make, instead of
// make dying of the same SIGINT and saying "Error". The returned function
// gives the terminal back. Anywhere else it does nothing.
func takeTerminal() (restore func()) {
	nothing := func() {}
	if os.Getenv("MAKELEVEL") == "" {
		return nothing
	}
	fd := int(os.Stdin.Fd())
	prev, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil {
		return nothing // not a terminal
	}
	// A background process group that sets the foreground gets SIGTTOU.
	signal.Ignore(syscall.SIGTTOU)
	if err := syscall.Setpgid(0, 0); err != nil {
		signal.Reset(syscall.SIGTTOU)
		return nothing
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, syscall.Getpgrp()); err != nil {
		_ = syscall.Setpgid(0, prev)
		signal.Reset(syscall.SIGTTOU)
		return nothing
	}
	return func() {
		_ = unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, prev)
		signal.Reset(syscall.SIGTTOU)
	}
}
