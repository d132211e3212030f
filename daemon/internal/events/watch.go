package events

import (
	"sync/atomic"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// watcher is a live, lossy view of new events (for a UI that shows them as
// they happen). The journal, not a watcher, is what guarantees delivery.
type watcher struct {
	ch     chan event.Event
	missed atomic.Uint64
}

// Watch returns a channel that receives every event published from now on,
// with its Seq, and a function that stops the watch and closes the channel.
// A watcher that falls more than buffer events behind misses events rather
// than slow publishers down; missed reports how many.
func (b *Bus) Watch(buffer int) (events <-chan event.Event, missed func() uint64, stop func()) {
	w := &watcher{ch: make(chan event.Event, max(buffer, 1))}
	b.mu.Lock()
	select {
	case <-b.closing:
		close(w.ch)
	default:
		b.watchers[w] = struct{}{}
		b.watcherCount.Add(1)
	}
	b.mu.Unlock()
	stop = func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.watchers[w]; ok {
			delete(b.watchers, w)
			b.watcherCount.Add(-1)
			close(w.ch)
		}
	}
	return w.ch, w.missed.Load, stop
}

func (b *Bus) hasWatchers() bool { return b.watcherCount.Load() > 0 }

func (b *Bus) fanOut(evs []event.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for w := range b.watchers {
		for _, e := range evs {
			select {
			case w.ch <- e:
			default:
				w.missed.Add(1)
			}
		}
	}
}
