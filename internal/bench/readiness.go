package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
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

// warmUp waits until a freshly started operator has made one object
// Ready, in an account and namespace of its own: a round measured from
// then on does not count the operator's start (its caches filling, its
// first List).
func warmUp(ctx context.Context, env *kube.Env) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "warm-up-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		return err
	}
	if err := env.CreateSecret(ctx, ns.Name, "creds-0", "AC"+localenv.RandomHex(16), "token-"+localenv.RandomHex(8)); err != nil {
		return err
	}
	obj := newObject(ns.Name, 0, 1)
	obj.Spec.UniqueName = "warm-up-" + localenv.RandomHex(4)
	if err := env.Client.Create(ctx, obj); err != nil {
		return err
	}
	for {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		if meta.IsStatusConditionTrue(obj.Status.Conditions, voicev1alpha1.ConditionReady) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("warming the operator up: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
