//go:build unix

package main

import (
	"net"
	"syscall"
)

// peerOpen peeks at an idle pooled connection without blocking: EAGAIN means open and quiet; end of file,
// an error or unexpected bytes mean it must not carry another request.
func peerOpen(c net.Conn) bool {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return true
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true // never wait for readability: quiet is the answer we hope for
	})
	return err == nil && open
}
