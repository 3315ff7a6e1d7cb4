package postfix

import (
	"encoding/binary"
	"strings"
	"time"

	"cutover/model"
)

// pendingMsg is a queue id with recipients whose last logged status was
// deferred or held: the ones an expiry of the message will give up.
type pendingMsg struct {
	seen  int64 // Unix time of the last line about it, for the TTL
	rcpts []pendingRcpt
}

// pendingRcpt keeps what an Expired event needs from the last deferral:
// the transport and relay attribute it to a side and an ISP.
type pendingRcpt struct {
	addr, transport, status, relay string
}

// track updates the pending recipients with one delivery outcome.
func (p *Parser) track(ev *model.Event) {
	switch ev.Outcome {
	case model.Deferred, model.Held:
		m := p.pending[ev.QueueID]
		if m == nil {
			m = &pendingMsg{}
			p.pending[ev.QueueID] = m
		}
		m.seen = ev.Time.Unix()
		r := pendingRcpt{transport: ev.Transport, status: ev.Status, relay: ev.Relay}
		for i := range m.rcpts {
			if m.rcpts[i].addr == ev.Recipient {
				r.addr = m.rcpts[i].addr
				m.rcpts[i] = r
				p.dirty[ev.QueueID] = struct{}{}
				p.prune()
				return
			}
		}
		// The event's Recipient shares its bytes with the response text:
		// copy it so that a pending entry keeps only the address alive.
		r.addr = strings.Clone(ev.Recipient)
		m.rcpts = append(m.rcpts, r)
		p.dirty[ev.QueueID] = struct{}{}
		p.prune()
	default:
		m := p.pending[ev.QueueID]
		if m == nil {
			return
		}
		for i := range m.rcpts {
			if m.rcpts[i].addr == ev.Recipient {
				m.rcpts = append(m.rcpts[:i], m.rcpts[i+1:]...)
				if len(m.rcpts) == 0 {
					delete(p.pending, ev.QueueID)
				}
				p.dirty[ev.QueueID] = struct{}{}
				return
			}
		}
	}
}

// forget drops a queue id (removed, or expired and reported).
func (p *Parser) forget(qid []byte) {
	if _, ok := p.pending[string(qid)]; ok {
		k := p.in.Get(qid)
		delete(p.pending, k)
		p.dirty[k] = struct{}{}
	}
}

// prune drops queue ids not heard of for the TTL, at most once an hour of
// log time: their "removed" line was missed (log gap, postsuper -d ALL run
// while cutover was stopped) and they would otherwise stay forever.
func (p *Parser) prune() {
	if p.newest.Sub(p.lastPrune) < time.Hour {
		return
	}
	p.lastPrune = p.newest
	limit := p.newest.Add(-p.ttl).Unix()
	for k, m := range p.pending {
		if m.seen < limit {
			delete(p.pending, k)
			p.dirty[k] = struct{}{}
		}
	}
}

// TakeDelta implements ingest.Stateful. Keys are queue ids as logged
// (unique within one Postfix queue, not across sources). A value is the
// encoded pending recipient list; nil means the queue id was dropped.
func (p *Parser) TakeDelta() map[string][]byte {
	if len(p.dirty) == 0 {
		return nil
	}
	out := make(map[string][]byte, len(p.dirty))
	for k := range p.dirty {
		if m := p.pending[k]; m != nil {
			out[k] = encodePending(m)
		} else {
			out[k] = nil
		}
	}
	clear(p.dirty)
	return out
}

// Load implements ingest.Stateful. Values it cannot decode are dropped.
func (p *Parser) Load(state map[string][]byte) {
	p.pending = make(map[string]*pendingMsg, len(state))
	clear(p.dirty)
	var newest int64
	for k, v := range state {
		if m, ok := decodePending(v); ok {
			p.pending[k] = m
			newest = max(newest, m.seen)
		}
	}
	if p.newest.Unix() < newest {
		p.newest = time.Unix(newest, 0)
	}
}

// Encoding, version 1: 0x01, varint seen (Unix seconds), uvarint count, then
// per recipient four uvarint-length-prefixed strings: address, transport,
// enhanced status, relay.
const pendingVersion = 1

func encodePending(m *pendingMsg) []byte {
	n := 1 + 2*binary.MaxVarintLen64
	for _, r := range m.rcpts {
		n += 4*binary.MaxVarintLen32 + len(r.addr) + len(r.transport) + len(r.status) + len(r.relay)
	}
	b := make([]byte, 0, n)
	b = append(b, pendingVersion)
	b = binary.AppendVarint(b, m.seen)
	b = binary.AppendUvarint(b, uint64(len(m.rcpts)))
	for _, r := range m.rcpts {
		for _, s := range [...]string{r.addr, r.transport, r.status, r.relay} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

func decodePending(b []byte) (*pendingMsg, bool) {
	if len(b) < 1 || b[0] != pendingVersion {
		return nil, false
	}
	b = b[1:]
	seen, k := binary.Varint(b)
	if k <= 0 {
		return nil, false
	}
	b = b[k:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n == 0 || n > uint64(len(b)) {
		return nil, false
	}
	b = b[k:]
	m := &pendingMsg{seen: seen, rcpts: make([]pendingRcpt, 0, n)}
	for i := uint64(0); i < n; i++ {
		var f [4]string
		for j := range f {
			l, k := binary.Uvarint(b)
			if k <= 0 || l > uint64(len(b)-k) {
				return nil, false
			}
			f[j] = string(b[k : k+int(l)])
			b = b[k+int(l):]
		}
		m.rcpts = append(m.rcpts, pendingRcpt{addr: f[0], transport: f[1], status: f[2], relay: f[3]})
	}
	return m, len(b) == 0
}
