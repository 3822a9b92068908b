package serve

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSlotQueue(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		holders int // slots taken first, held through the test
		waiters int // requests that then queue
		release int // slots released while they wait
		want    int // waiters served, the oldest first
	}{
		{"free slots", 3, 0, 3, 0, 3},
		{"all taken, none freed", 2, 2, 2, 0, 0},
		{"one freed", 2, 2, 3, 1, 1},
		{"all freed", 1, 1, 3, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newSlotQueue(tt.max)
			for i := 0; i < tt.holders; i++ {
				if !q.acquire(time.Second, nil) {
					t.Fatal("a free slot was refused")
				}
			}
			var order []int
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := 0; i < tt.waiters; i++ {
				wg.Add(1)
				queued := make(chan struct{})
				go func() {
					defer wg.Done()
					waited := false
					ok := q.acquire(300*time.Millisecond, func() { waited = true; close(queued) })
					if ok {
						mu.Lock()
						order = append(order, i)
						mu.Unlock()
					}
					if !waited {
						close(queued)
					}
				}()
				<-queued // the next one queues behind this one
			}
			for i := 0; i < tt.release; i++ {
				q.release()
				// The slot goes to the oldest waiter: let it record
				// itself before the next one can be served.
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
					mu.Lock()
					n := len(order)
					mu.Unlock()
					if n > i || time.Now().After(deadline) {
						break
					}
				}
			}
			wg.Wait()
			if len(order) != tt.want {
				t.Fatalf("%d waiters served, want %d", len(order), tt.want)
			}
			for i, w := range order {
				if w != i {
					t.Fatalf("served in the order %v, want the oldest first", order)
				}
			}
			taken, waiting := q.busy()
			// Slots pass from the released to the served.
			if want := tt.holders - tt.release + tt.want; waiting != 0 || taken != want {
				t.Errorf("after: %d taken, %d waiting; want %d taken, none waiting", taken, waiting, want)
			}
		})
	}
}

// TestSlotQueueBound: many requests taking and giving back slots never
// hold more than max at once, and every one is served.
func TestSlotQueueBound(t *testing.T) {
	const max, workers, rounds = 3, 16, 200
	q := newSlotQueue(max)
	var in, peak, served atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				if !q.acquire(10*time.Second, nil) {
					t.Error("a request timed out")
					return
				}
				n := in.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				served.Add(1)
				in.Add(-1)
				q.release()
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > max {
		t.Errorf("%d requests held a slot at once, over max %d", p, max)
	}
	if n := served.Load(); n != workers*rounds {
		t.Errorf("%d requests served, want %d", n, workers*rounds)
	}
	if taken, waiting := q.busy(); taken != 0 || waiting != 0 {
		t.Errorf("after: %d taken, %d waiting", taken, waiting)
	}
}

// busy returns how many slots are taken and how many requests wait.
func (q *slotQueue) busy() (taken, waiting int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.taken, len(q.waiters)
}
