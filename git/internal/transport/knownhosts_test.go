package transport

import "testing"

func FuzzParseKnownHosts(f *testing.F) {
	f.Add([]byte("[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"))
	f.Add([]byte("|1|abc|def ssh-rsa AAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) { _, _ = ParseKnownHosts(data) })
}
