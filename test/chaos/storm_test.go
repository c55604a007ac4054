package chaos_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// wanted is what the storm last asked of one object's remote configuration.
type wanted struct {
	UniqueName, Description, URL string
	Method                       voicev1alpha1.HTTPMethod
}

// storm writes randomized creates, edits and deletes of up to n objects in
// one namespace, all with one account's credentials, and remembers what it
// asked for. Every choice comes from rng, so a seed replays the same
// sequence of writes (their timing against the kills varies).
type storm struct {
	env     *kube.Env
	ns      string
	creds   string
	account string
	n       int
	rng     *rand.Rand

	mu      sync.Mutex
	live    map[string]wanted // object name → what it wants now
	order   []string          // live object names, in creation order, for seeded picks
	deleted map[string]bool   // objects the storm deleted
	// owner maps every unique name ever asked for to its object, so a
	// leaked remote configuration can be traced to the object that made it.
	owner  map[string]string
	nextID int
	// renames counts each object's uniqueName changes, to make new names.
	renames map[string]int

	created, deletes int
	edits            map[string]int // field → spec edits of it
}

func newStorm(env *kube.Env, ns, creds, account string, n int, rng *rand.Rand) *storm {
	return &storm{
		env: env, ns: ns, creds: creds, account: account, n: n, rng: rng,
		live: map[string]wanted{}, deleted: map[string]bool{}, owner: map[string]string{},
		renames: map[string]int{}, edits: map[string]int{},
	}
}

// run performs 3n writes, paced evenly over d: every object is created,
// about one in four of them is deleted again, the rest are edits.
func (s *storm) run(ctx context.Context, d time.Duration) error {
	ops := 3 * s.n
	pace := time.NewTicker(d / time.Duration(ops))
	defer pace.Stop()
	for i := range ops {
		if err := s.step(ctx, ops-i); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-pace.C:
		}
	}
	return nil
}

// step makes one seeded choice among create, edit and delete; left is how
// many steps remain, so that every object gets created.
func (s *storm) step(ctx context.Context, left int) error {
	s.mu.Lock()
	toCreate := s.n - s.nextID
	liveCount := len(s.order)
	s.mu.Unlock()
	r := s.rng.Float64()
	switch {
	case toCreate > 0 && (liveCount == 0 || toCreate >= left || r < 0.45):
		return s.create(ctx)
	case liveCount == 0:
		return nil
	case s.deletes < s.n/4 && r > 0.85:
		return s.delete(ctx, s.pick())
	default:
		return s.edit(ctx, s.pick())
	}
}

func (s *storm) pick() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order[s.rng.IntN(len(s.order))]
}

func (s *storm) create(ctx context.Context) error {
	s.mu.Lock()
	name := fmt.Sprintf("cc-%03d", s.nextID)
	s.nextID++
	w := wanted{
		UniqueName:  name + "-v0",
		Description: "created " + name,
		URL:         "https://example.com/calls/" + name,
		Method:      voicev1alpha1.HTTPMethodPOST,
	}
	s.live[name], s.owner[w.UniqueName] = w, name
	s.order = append(s.order, name)
	s.created++
	s.mu.Unlock()
	return s.env.Client.Create(ctx, &voicev1alpha1.ClientConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name},
		Spec: voicev1alpha1.ClientConfigurationSpec{
			UniqueName:       w.UniqueName,
			Description:      w.Description,
			CallNotification: voicev1alpha1.CallNotification{URL: w.URL, Method: w.Method},
			CredentialsRef:   voicev1alpha1.SecretReference{Name: s.creds},
		},
	})
}

// edit changes one field of the object's spec with a merge patch, which
// carries no resourceVersion and so never conflicts with the operator's own
// writes (finalizer, annotations, status).
func (s *storm) edit(ctx context.Context, name string) error {
	s.mu.Lock()
	w := s.live[name]
	var field, patch string
	switch s.rng.IntN(4) {
	case 0:
		field = "description"
		w.Description = fmt.Sprintf("edited %s %d", name, s.rng.IntN(1_000_000))
		patch = fmt.Sprintf(`{"spec":{"description":%q}}`, w.Description)
	case 1:
		field = "url"
		w.URL = fmt.Sprintf("https://example.com/calls/%s/%d", name, s.rng.IntN(1_000_000))
		patch = fmt.Sprintf(`{"spec":{"callNotification":{"url":%q}}}`, w.URL)
	case 2:
		field = "method"
		w.Method = map[voicev1alpha1.HTTPMethod]voicev1alpha1.HTTPMethod{
			voicev1alpha1.HTTPMethodPOST: voicev1alpha1.HTTPMethodGET, voicev1alpha1.HTTPMethodGET: voicev1alpha1.HTTPMethodPOST,
		}[w.Method]
		patch = fmt.Sprintf(`{"spec":{"callNotification":{"method":%q}}}`, w.Method)
	default:
		// Names are never reused, so a rename never collides with a name
		// a deleted object's remote configuration may still hold.
		field = "uniqueName"
		s.renames[name]++
		w.UniqueName = fmt.Sprintf("%s-v%d", name, s.renames[name])
		s.owner[w.UniqueName] = name
		patch = fmt.Sprintf(`{"spec":{"uniqueName":%q}}`, w.UniqueName)
	}
	s.live[name] = w
	s.edits[field]++
	s.mu.Unlock()
	obj := &voicev1alpha1.ClientConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name}}
	return s.env.Client.Patch(ctx, obj, client.RawPatch("application/merge-patch+json", []byte(patch)))
}

func (s *storm) delete(ctx context.Context, name string) error {
	s.mu.Lock()
	delete(s.live, name)
	s.order = slices.DeleteFunc(s.order, func(n string) bool { return n == name })
	s.deleted[name] = true
	s.deletes++
	s.mu.Unlock()
	return s.env.Client.Delete(ctx, &voicev1alpha1.ClientConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name}})
}

// editCount is every spec edit the storm made.
func (s *storm) editCount() int {
	total := 0
	for _, n := range s.edits {
		total += n
	}
	return total
}

// unconverged lists what keeps the apiserver from the storm's end state:
// deleted objects still present (their finalizer not released), live
// objects missing, not Ready, or Ready for an older generation. Empty means
// converged. objs receives the live objects as read.
func (s *storm) unconverged(ctx context.Context, objs map[string]*voicev1alpha1.ClientConfiguration) ([]string, error) {
	var list voicev1alpha1.ClientConfigurationList
	if err := s.env.Client.List(ctx, &list, client.InNamespace(s.ns)); err != nil {
		return nil, err
	}
	var problems []string
	seen := map[string]bool{}
	for i := range list.Items {
		o := &list.Items[i]
		seen[o.Name] = true
		if _, ok := s.live[o.Name]; !ok {
			problems = append(problems, fmt.Sprintf("%s: deleted=%v, still present (deletionTimestamp %v, finalizers %v, id %q)",
				o.Name, s.deleted[o.Name], o.DeletionTimestamp, o.Finalizers, o.Status.ID))
			continue
		}
		objs[o.Name] = o
		ready := meta.FindStatusCondition(o.Status.Conditions, voicev1alpha1.ConditionReady)
		switch {
		case ready == nil:
			problems = append(problems, o.Name+": no Ready condition")
		case ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != o.Generation || o.Status.ObservedGeneration != o.Generation:
			problems = append(problems, fmt.Sprintf("%s: Ready=%s %s (%s) at generation %d/%d of %d",
				o.Name, ready.Status, ready.Reason, ready.Message, ready.ObservedGeneration, o.Status.ObservedGeneration, o.Generation))
		case o.Status.ID == "":
			problems = append(problems, o.Name+": Ready without status.id")
		}
	}
	for name := range s.live {
		if !seen[name] {
			problems = append(problems, name+": live object missing from the apiserver")
		}
	}
	sort.Strings(problems)
	return problems, nil
}

// waitConverged polls until the apiserver holds the storm's end state, or
// fails after within. It returns the live objects.
func (s *storm) waitConverged(ctx context.Context, within time.Duration) (map[string]*voicev1alpha1.ClientConfiguration, time.Duration, error) {
	start := time.Now()
	deadline := start.Add(within)
	for {
		objs := map[string]*voicev1alpha1.ClientConfiguration{}
		problems, err := s.unconverged(ctx, objs)
		if err == nil && len(problems) == 0 {
			return objs, time.Since(start), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return nil, 0, err
			}
			return nil, 0, fmt.Errorf("not converged after %s, %d problems:\n  %s", within, len(problems), strings.Join(head(problems, 30), "\n  "))
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// remoteCheck is the comparison of the simulator's configurations with the
// live objects.
type remoteCheck struct {
	// Leaks are remote configurations no live object owns.
	Leaks []string
	// Duplicates are objects with more than one remote configuration.
	Duplicates []string
	// Wrong are live objects whose remote configuration is missing, has the
	// wrong fields, or is not the one status.id names.
	Wrong []string
}

func (c remoteCheck) ok() bool { return len(c.Leaks)+len(c.Duplicates)+len(c.Wrong) == 0 }

func (c remoteCheck) String() string {
	return fmt.Sprintf("leaks %d, duplicates %d, wrong %d:\n  %s", len(c.Leaks), len(c.Duplicates), len(c.Wrong),
		strings.Join(head(slices.Concat(c.Leaks, c.Duplicates, c.Wrong), 30), "\n  "))
}

// checkRemote compares the account's remote configurations with the live
// objects: exactly one each, with the wanted fields and the id in status,
// and nothing else.
func (s *storm) checkRemote(objs map[string]*voicev1alpha1.ClientConfiguration) remoteCheck {
	var c remoteCheck
	byName := map[string][]voicesim.Record{}
	perOwner := map[string]int{}
	for _, rec := range s.env.Sim.Configurations(s.account) {
		byName[rec.UniqueName] = append(byName[rec.UniqueName], rec)
		owner, known := s.owner[rec.UniqueName]
		perOwner[owner]++
		if w, live := s.live[owner]; !known || !live || w.UniqueName != rec.UniqueName {
			c.Leaks = append(c.Leaks, fmt.Sprintf("leak: %s %q (object %q, deleted=%v)", rec.ID, rec.UniqueName, owner, s.deleted[owner]))
		}
	}
	for owner, n := range perOwner {
		if n > 1 {
			c.Duplicates = append(c.Duplicates, fmt.Sprintf("duplicate: object %q has %d remote configurations", owner, n))
		}
	}
	for name, w := range s.live {
		recs := byName[w.UniqueName]
		if len(recs) != 1 {
			c.Wrong = append(c.Wrong, fmt.Sprintf("%s: %d remote configurations named %q", name, len(recs), w.UniqueName))
			continue
		}
		got := wanted{UniqueName: recs[0].UniqueName, URL: recs[0].CallNotificationURL, Method: voicev1alpha1.HTTPMethod(recs[0].CallNotificationMethod)}
		if recs[0].Description != nil {
			got.Description = *recs[0].Description
		}
		if got != w {
			c.Wrong = append(c.Wrong, fmt.Sprintf("%s: remote %+v, wanted %+v", name, got, w))
		}
		if o := objs[name]; o == nil || o.Status.ID != recs[0].ID {
			c.Wrong = append(c.Wrong, fmt.Sprintf("%s: remote id %s, status.id %q", name, recs[0].ID, statusID(o)))
		}
	}
	sort.Strings(c.Leaks)
	sort.Strings(c.Duplicates)
	sort.Strings(c.Wrong)
	return c
}

// deleteAll deletes every live object and waits until the namespace is
// empty: every finalizer released, which the operator does only after the
// remote delete succeeded.
func (s *storm) deleteAll(ctx context.Context, within time.Duration) error {
	if err := s.env.Client.DeleteAllOf(ctx, &voicev1alpha1.ClientConfiguration{}, client.InNamespace(s.ns)); err != nil {
		return err
	}
	for name := range s.live {
		s.deleted[name] = true
	}
	clear(s.live)
	s.order = nil
	_, _, err := s.waitConverged(ctx, within)
	return err
}

func statusID(o *voicev1alpha1.ClientConfiguration) string {
	if o == nil {
		return ""
	}
	return o.Status.ID
}

func head(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("… and %d more", len(s)-n))
	}
	return s
}
