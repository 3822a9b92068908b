//go:build !linux

package serve

import "time"

// parkDelay is unused where connections cannot be parked.
const parkDelay = time.Duration(0)

// parker is a stand-in where there is no epoll: idle connections keep
// their goroutine.
type parker struct{}

func newParker(*Server) (*parker, error) { return nil, nil }
func (p *parker) park(*conn) bool        { return false }
func (p *parker) evict(int) int          { return 0 }
func (p *parker) count() int             { return 0 }
func (p *parker) close()                 {}
