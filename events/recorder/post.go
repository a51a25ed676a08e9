package recorder

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gitopskit/kit/events"
)

// work posts queued events in order until Close drains the queue or ctx
// ends.
func (r *Recorder) work(ctx context.Context) {
	defer close(r.done)
	defer func() {
		// Whatever is left when aborted is dropped.
		for {
			select {
			case <-r.queue:
				r.metrics.dropped.WithLabelValues(DroppedClosed).Inc()
			default:
				return
			}
		}
	}()
	for {
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case e := <-r.queue:
			r.post(ctx, e)
		case <-r.stop:
			for {
				select {
				case e := <-r.queue:
					r.post(ctx, e)
				default:
					return
				}
				if ctx.Err() != nil {
					return
				}
			}
		}
	}
}

// outcome of one attempt.
type outcome int

const (
	posted outcome = iota
	retry
	rejected
)

// post sends e, retrying connection errors and 5xx with backoff.
func (r *Recorder) post(ctx context.Context, e *events.Event) {
	body, err := json.Marshal(e)
	if err != nil {
		r.metrics.dropped.WithLabelValues(DroppedInvalid).Inc()
		return
	}
	log := r.log.WithValues("object", e.ObjectKey(), "reason", e.Reason)
	backoff := r.opts.backoff
	for attempt := 1; ; attempt++ {
		res, err := r.attempt(ctx, body)
		switch res {
		case posted:
			r.metrics.posted.Inc()
			return
		case rejected:
			r.metrics.dropped.WithLabelValues(DroppedRejected).Inc()
			log.V(1).Info("the hub refused the event", "error", err.Error())
			return
		}
		if ctx.Err() != nil {
			r.metrics.dropped.WithLabelValues(DroppedClosed).Inc()
			return
		}
		if attempt >= r.opts.attempts {
			r.metrics.dropped.WithLabelValues(DroppedFailed).Inc()
			log.Error(err, "event not posted to the hub", "attempts", attempt)
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			r.metrics.dropped.WithLabelValues(DroppedClosed).Inc()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, r.opts.maxBackoff)
	}
}

func (r *Recorder) attempt(ctx context.Context, body []byte) (outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.postTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.hub, bytes.NewReader(body))
	if err != nil {
		return rejected, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gitopskit-events-recorder/1")
	resp, err := r.client.Do(req)
	if err != nil {
		return retry, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return posted, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return retry, fmt.Errorf("hub answered %d", resp.StatusCode)
	}
	return rejected, fmt.Errorf("hub answered %d", resp.StatusCode)
}
