package cache

import "strings"

// The index maps paths to what the cache knows about them. Every path that an
// entry depends on, that is watched, or that changed recently has a node;
// nodes form a tree, so that an event on a folder can reach every entry below
// it. Nodes that hold nothing are pruned at once, so the index stays as large
// as the entries, the watched folders and the stamp ring, and no larger.
//
// Change stamps make Add's check per path. Every change takes the next
// sequence number. An event on path p stamps p's node with sub (it covers p
// and everything below it, since we cannot tell whether a removed path was a
// folder) and p's folder with self (its list of names changed). Add refuses an
// entry built under Token t if a dependency, or a folder above it, has sub > t,
// or a folder dependency has self > t. A change to an unrelated file does not
// defeat it.
//
// Stamps are bounded: a node keeps its stamps while it is in the ring of the
// maxStamps most recently stamped nodes. When a node falls out, its stamps are
// folded into floor, and Add refuses every token older than floor: it can no
// longer prove such a token saw no change. A refusal is never wrong, only a
// missed chance to cache.

// maxStamps is the number of recently changed paths whose change stamps are
// remembered; a Token older than the forgotten ones is refused.
const maxStamps = 1 << 14

// node is one path in the index. All fields are guarded by Cache.mu.
type node struct {
	path    string
	name    string // base name: the key in parent.kids
	parent  *node
	kids    map[string]*node
	entries []*Entry // entries with a dependency on exactly this path (see Entry.refs)

	self    uint64 // stamp of the last change to this folder's list of names
	sub     uint64 // stamp of the last event on this path, covering all below it
	stamped bool   // in the stamp ring

	watched bool // a watch on this folder is live
	failed  bool // a watch on this folder could not be added: stat on every hit below it
	root    bool // a document root (its real path), as given to Watch
	outer   bool // the folder holding a document root, watched to see the root replaced
}

// idle reports whether n holds nothing and may be pruned.
func (n *node) idle() bool {
	return len(n.kids) == 0 && len(n.entries) == 0 && !n.stamped &&
		!n.watched && !n.failed && !n.root && !n.outer
}

// dir returns the folder of an absolute, cleaned path ("/" for "/x").
func dir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// within reports whether p is root or lies below it.
func within(p, root string) bool {
	if root == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == root || strings.HasPrefix(p, root) && p[len(root)] == '/'
}

// ensure returns the node for p, making it and its ancestors if needed.
func (c *Cache) ensure(p string) *node {
	if n := c.nodes[p]; n != nil {
		return n
	}
	n := &node{path: p}
	if p != "/" {
		n.parent = c.ensure(dir(p))
		n.name = p[strings.LastIndexByte(p, '/')+1:]
		if n.parent.kids == nil {
			n.parent.kids = make(map[string]*node)
		}
		n.parent.kids[n.name] = n
	}
	c.nodes[p] = n
	return n
}

// register adds e to n's entries. c.mu is held.
func (c *Cache) register(e *Entry, n *node) {
	e.refs = append(e.refs, ref{n, len(n.entries)})
	n.entries = append(n.entries, e)
}

// unregister removes e from every node it is registered in, moving each
// node's last entry into its slot, and prunes the nodes left idle.
func (c *Cache) unregister(e *Entry) {
	for _, r := range e.refs {
		n := r.n
		last := len(n.entries) - 1
		if moved := n.entries[last]; moved != e {
			n.entries[r.i] = moved
			for j := range moved.refs {
				if moved.refs[j].n == n {
					moved.refs[j].i = r.i
					break
				}
			}
		}
		n.entries[last] = nil
		n.entries = n.entries[:last]
		if len(n.entries) == 0 {
			n.entries = nil
		}
		c.prune(n)
	}
	e.refs = nil
}

// prune removes n and then its ancestors for as long as they are idle.
func (c *Cache) prune(n *node) {
	for n != nil && n.idle() {
		if n.parent != nil {
			delete(n.parent.kids, n.name)
		}
		delete(c.nodes, n.path)
		n = n.parent
	}
}

// subtree appends n and every node below it to buf.
func subtree(n *node, buf []*node) []*node {
	start := len(buf)
	buf = append(buf, n)
	for i := start; i < len(buf); i++ {
		for _, k := range buf[i].kids {
			buf = append(buf, k)
		}
	}
	return buf
}

// next takes the next change sequence number.
func (c *Cache) next() uint64 { return c.seq.Add(1) }

// stamp puts n in the ring of recently changed nodes, after its self or sub
// stamp was set. When the ring is full the oldest node leaves it and its
// stamps are folded into floor.
func (c *Cache) stamp(n *node) {
	if n.stamped {
		return
	}
	if c.ringLen == len(c.ring) {
		old := c.ring[c.ringHead]
		c.ring[c.ringHead] = nil
		c.ringHead = (c.ringHead + 1) % len(c.ring)
		c.ringLen--
		c.floor = max(c.floor, old.self, old.sub)
		old.self, old.sub, old.stamped = 0, 0, false
		c.prune(old)
	}
	c.ring[(c.ringHead+c.ringLen)%len(c.ring)] = n
	c.ringLen++
	n.stamped = true
}

// invalidate records an event on p: it drops every entry that depends on p or
// on anything below it, and every entry that depends on p's folder (its
// listing), and stamps both so that Add refuses entries built before.
// rewritten says the event was (or may have been) a write to p's content,
// as for drop.
func (c *Cache) invalidate(p string, rewritten bool) {
	// Stamp first: a stamped node is not pruned when its entries go.
	s := c.next()
	n := c.ensure(p)
	n.sub = s
	c.stamp(n)
	c.dropTree(n, rewritten)
	if f := n.parent; f != nil {
		f.self = s
		c.stamp(f)
		c.dropAll(f, rewritten)
	}
}

// changedSince reports whether an event stamped p, a folder above p, or (for
// a folder) p's list of names after t.
func (c *Cache) changedSince(p string, t uint64) bool {
	if t < c.floor {
		return true
	}
	if n := c.nodes[p]; n != nil && n.self > t {
		return true
	}
	for q := p; ; q = dir(q) {
		if n := c.nodes[q]; n != nil && n.sub > t {
			return true
		}
		if q == "/" {
			return false
		}
	}
}

// covered reports whether watches see every change to p: the folder holding
// p (p itself for a folder) and every folder above it up to a document root
// are watched.
func (c *Cache) covered(p string, isDir bool) bool {
	q := p
	if !isDir {
		q = dir(p)
	}
	for {
		n := c.nodes[q]
		if n == nil || !n.watched {
			return false
		}
		if n.root {
			return true
		}
		if q == "/" {
			return false
		}
		q = dir(q)
	}
}

// inTree reports whether p lies strictly below a document root.
func (c *Cache) inTree(p string) bool {
	for q := p; q != "/"; {
		q = dir(q)
		if n := c.nodes[q]; n != nil && n.root {
			return true
		}
	}
	return false
}
