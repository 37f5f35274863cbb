// Package faultproxy puts faults between orderflow and a server that cannot be
// made to fail on cue: a TCP proxy that delays or refuses, and an HTTP proxy
// that answers as a sealed, stopped or failing Vault would.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// TCP forwards connections from its listener to a target, delaying every chunk
// of data by the delay in force, or refusing connections while told to.
type TCP struct {
	target   string
	listener net.Listener

	delay   atomic.Int64 // nanoseconds added before each chunk is forwarded
	refused atomic.Bool  // new connections are closed at once

	mu    sync.Mutex
	conns map[net.Conn]struct{} // guarded by mu: open connections, both sides
	wg    sync.WaitGroup
}

// NewTCP listens on a free loopback port and forwards to target until ctx ends
// or Close is called.
func NewTCP(ctx context.Context, target string) (*TCP, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &TCP{target: target, listener: l, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept() // owned by p: ends when the listener closes
	context.AfterFunc(ctx, func() { _ = p.Close() })
	return p, nil
}

// Addr is the address to connect to instead of the target.
func (p *TCP) Addr() string { return p.listener.Addr().String() }

// SetDelay delays each chunk of data, both ways, by d from now on (0: none).
func (p *TCP) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Refuse makes the proxy close new connections at once and, with cut, close
// every open one too: a server gone away.
func (p *TCP) Refuse(cut bool) {
	p.refused.Store(true)
	if cut {
		p.mu.Lock()
		for c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
	}
}

// Accept undoes Refuse.
func (p *TCP) Accept() { p.refused.Store(false) }

// Close stops listening, closes every connection and waits for the copies.
func (p *TCP) Close() error {
	err := p.listener.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (p *TCP) accept() {
	defer p.wg.Done()
	for {
		in, err := p.listener.Accept()
		if err != nil {
			return
		}
		if p.refused.Load() {
			_ = in.Close()
			continue
		}
		out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(out, in) // owned by p: ends when either side closes
		go p.pipe(in, out)
	}
}

// pipe copies from src to dst, each chunk after the delay in force, and
// closes both when either ends.
func (p *TCP) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		_ = src.Close()
		_ = dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if d := time.Duration(p.delay.Load()); d > 0 {
				time.Sleep(d)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed side: either way the pair is done
		}
	}
}
