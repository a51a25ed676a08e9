package gittest

type sshServer struct{}

func startSSH(s *Server) (*sshServer, error) { return &sshServer{}, nil }
func (s *sshServer) close()                  {}
