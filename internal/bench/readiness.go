package bench

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
)

// readyWatch knows, through one watch, which ClientConfigurations are Ready
// now. Polling with Lists instead would load the apiserver the operator is
// measured against with a full List of every object several times a second.
type readyWatch struct {
	mu    sync.Mutex
	ready map[types.NamespacedName]bool
	w     watch.Interface
}

func watchReady(ctx context.Context, c client.WithWatch, opts ...client.ListOption) (*readyWatch, error) {
	w, err := c.Watch(ctx, &voicev1alpha1.ClientConfigurationList{}, opts...)
	if err != nil {
		return nil, err
	}
	r := &readyWatch{ready: map[types.NamespacedName]bool{}, w: w}
	go func() {
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(*voicev1alpha1.ClientConfiguration)
			if !ok {
				continue
			}
			key := client.ObjectKeyFromObject(obj)
			r.mu.Lock()
			r.ready[key] = ev.Type != watch.Deleted && meta.IsStatusConditionTrue(obj.Status.Conditions, voicev1alpha1.ConditionReady)
			r.mu.Unlock()
		}
	}()
	return r, nil
}

// count is how many objects that keep accepts are Ready.
func (r *readyWatch) count(keep func(types.NamespacedName) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for key, ready := range r.ready {
		if ready && keep(key) {
			n++
		}
	}
	return n
}

func (r *readyWatch) stop() { r.w.Stop() }
