package controllers

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"pgregory.net/rapid"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// actions are the steps rapid draws from; "" is the check run after each.
func (w *modelWorld) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"apply":           w.apply,
		"applyAgain":      w.apply,
		"delete":          w.deleteObject,
		"copyToOther":     w.copyObject,
		"secret":          w.moveSecret,
		"consoleCreate":   w.consoleCreate,
		"consoleDelete":   w.consoleDelete,
		"consoleRecreate": w.consoleRecreate,
		"consoleEdit":     w.consoleEdit,
		"consoleDefault":  w.consoleDefault,
		"armFault":        w.armFault,
		"access":          w.access,
		"commitLate":      w.commitLate,
		"reconcile":       w.reconcileOne,
		"reconcileMore":   w.reconcileOne,
		"reconcileAll":    w.reconcileAll,
		"tick":            w.tick,
		"restart":         w.restart,
		"":                w.check,
	}
}

// ---- users ----

func (w *modelWorld) apply(t *rapid.T) {
	ns := rapid.SampledFrom(modelNamespaces).Draw(t, "namespace")
	name := rapid.SampledFrom(modelNames).Draw(t, "name")
	spec := voicev1alpha1.ClientConfigurationSpec{
		UniqueName:  rapid.SampledFrom(modelUnique).Draw(t, "uniqueName"),
		Description: rapid.SampledFrom(modelDescs).Draw(t, "description"),
		CallNotification: voicev1alpha1.CallNotification{
			URL: rapid.SampledFrom(modelURLs).Draw(t, "url"), Method: voicev1alpha1.HTTPMethodPOST,
		},
		CredentialsRef:   voicev1alpha1.SecretReference{Name: modelSecret},
		DeletionPolicy:   rapid.SampledFrom([]voicev1alpha1.DeletionPolicy{voicev1alpha1.DeletionPolicyDelete, voicev1alpha1.DeletionPolicyDelete, voicev1alpha1.DeletionPolicyOrphan}).Draw(t, "deletionPolicy"),
		ManagementPolicy: rapid.SampledFrom([]voicev1alpha1.ManagementPolicy{voicev1alpha1.ManagementPolicyManage, voicev1alpha1.ManagementPolicyManage, voicev1alpha1.ManagementPolicyObserveOnly}).Draw(t, "managementPolicy"),
	}
	adopt := rapid.IntRange(0, 3).Draw(t, "adopt") == 0
	obj := &voicev1alpha1.ClientConfiguration{}
	err := w.store.Get(w.ctx, types.NamespacedName{Namespace: ns, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		w.uids++
		obj = &voicev1alpha1.ClientConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			UID: types.UID(fmt.Sprintf("uid-%d", w.uids)), Generation: 1,
			CreationTimestamp: metav1.NewTime(w.clock.Now().Truncate(time.Second))}, Spec: spec}
		setAdopt(obj, adopt)
		w.must(w.store.Create(w.ctx, obj))
		w.last[obj.UID] = obj.DeepCopy()
		return
	}
	w.must(err)
	if !obj.DeletionTimestamp.IsZero() {
		t.Skip("object is being deleted")
	}
	if obj.Spec != spec {
		obj.Generation++
	}
	obj.Spec = spec
	setAdopt(obj, adopt)
	w.must(w.store.Update(w.ctx, obj))
	w.last[obj.UID] = obj.DeepCopy()
}

func setAdopt(obj *voicev1alpha1.ClientConfiguration, adopt bool) {
	if adopt {
		metav1.SetMetaDataAnnotation(&obj.ObjectMeta, voicev1alpha1.AnnotationAdopt, "true")
	} else {
		delete(obj.Annotations, voicev1alpha1.AnnotationAdopt)
	}
}

func (w *modelWorld) deleteObject(t *rapid.T) {
	obj := w.pickObject(t)
	w.must(client.IgnoreNotFound(w.store.Delete(w.ctx, obj)))
	w.observeRemovals()
}

// copyObject copies an object, annotations and all, into the other
// namespace under a new UID: what a restore, or `kubectl get -o yaml`
// applied elsewhere, makes.
func (w *modelWorld) copyObject(t *rapid.T) {
	obj := w.pickObject(t)
	other := modelNamespaces[0]
	if obj.Namespace == other {
		other = modelNamespaces[1]
	}
	cp := &voicev1alpha1.ClientConfiguration{}
	if err := w.store.Get(w.ctx, types.NamespacedName{Namespace: other, Name: obj.Name}, cp); err == nil {
		t.Skip("the copy's place is taken")
	}
	w.uids++
	cp = &voicev1alpha1.ClientConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: obj.Name,
		UID: types.UID(fmt.Sprintf("uid-%d", w.uids)), Generation: 1, Annotations: obj.Annotations,
		CreationTimestamp: metav1.NewTime(w.clock.Now().Truncate(time.Second))}, Spec: obj.Spec}
	w.must(w.store.Create(w.ctx, cp))
	w.last[cp.UID] = cp.DeepCopy()
}

func (w *modelWorld) moveSecret(t *rapid.T) {
	ns := rapid.SampledFrom(modelNamespaces).Draw(t, "namespace")
	w.putSecret(ns, rapid.SampledFrom([]string{secretA, secretB, secretAWithKeyB, secretMissing}).Draw(t, "secret"))
}

func (w *modelWorld) putSecret(ns, content string) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: modelSecret}}
	_ = w.store.Delete(w.ctx, secret)
	w.secrets[ns] = content
	data := map[string][]byte{}
	switch content {
	case secretA:
		data[voicev1alpha1.SecretKeyAccountSID], data[voicev1alpha1.SecretKeyAuthToken] = []byte(modelAccountA), []byte(modelTokenA)
	case secretB:
		data[voicev1alpha1.SecretKeyAccountSID], data[voicev1alpha1.SecretKeyAuthToken] = []byte(modelAccountB), []byte(modelTokenB)
	case secretAWithKeyB:
		data[voicev1alpha1.SecretKeyAccountSID] = []byte(modelAccountA)
		data[voicev1alpha1.SecretKeyAPIKey], data[voicev1alpha1.SecretKeyAPISecret] = []byte(modelKeyB), []byte(modelSecretB)
	case secretMissing:
		return
	}
	secret = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: modelSecret}, Data: data}
	w.must(w.store.Create(w.ctx, secret))
}

// secretAccount is the account a namespace's Secret claims, and the one
// its key really belongs to ("" when there is no Secret).
func (w *modelWorld) secretAccount(ns string) (claimed, real string) {
	return w.accountsOf(w.secrets[ns])
}

// accountsOf is secretAccount for one Secret content.
func (w *modelWorld) accountsOf(content string) (claimed, real string) {
	switch content {
	case secretA:
		return modelAccountA, modelAccountA
	case secretB:
		return modelAccountB, modelAccountB
	case secretAWithKeyB:
		return modelAccountA, modelAccountB
	}
	return "", ""
}

// ---- the Console ----

func (w *modelWorld) consoleCreate(t *rapid.T) {
	account := rapid.SampledFrom([]string{modelAccountA, modelAccountA, modelAccountB}).Draw(t, "account")
	desc := rapid.SampledFrom(modelDescs).Draw(t, "description")
	rec := voicesim.Record{UniqueName: rapid.SampledFrom(modelUnique).Draw(t, "uniqueName"), ConfigurationType: "Client",
		CallNotificationURL: rapid.SampledFrom(modelURLs).Draw(t, "url"), CallNotificationMethod: "POST"}
	if desc != "" {
		rec.Description = &desc
	}
	id, err := w.sim.CreateOutOfBand(account, rec)
	if err != nil {
		t.Skip("the name is taken")
	}
	w.consoleMade(id, rec)
}

// consoleMade notes a configuration the Console made that an ambiguous POST
// of the operator could have made too.
func (w *modelWorld) consoleMade(id string, rec voicesim.Record) {
	w.consoleMadeAt[id] = consoleMade{at: w.clock.Now(), content: recordContent(rec)}
	for _, post := range w.ambiguous {
		if post.content == recordContent(rec) {
			w.plausible(id, post.uid)
		}
	}
}

func (w *modelWorld) pickConfiguration(t *rapid.T) (string, voicesim.Record) {
	var all []voicesim.Record
	for _, account := range []string{modelAccountA, modelAccountB} {
		all = append(all, w.sim.Configurations(account)...)
	}
	if len(all) == 0 {
		t.Skip("no configuration")
	}
	sort.Slice(all, func(i, j int) bool { return all[i].UniqueName+all[i].AccountSID < all[j].UniqueName+all[j].AccountSID })
	rec := rapid.SampledFrom(all).Draw(t, "configuration")
	return rec.AccountSID, rec
}

func (w *modelWorld) consoleDelete(t *rapid.T) {
	w.consoleRemove(w.pickConfiguration(t))
}

// consoleRemove deletes a configuration as the Console does (unsetting it
// as the default first).
func (w *modelWorld) consoleRemove(account string, rec voicesim.Record) {
	if w.sim.Default(account) == rec.ID {
		_ = w.sim.SetDefaultOutOfBand(account, "")
	}
	w.must(w.sim.DeleteOutOfBand(account, rec.ID))
	w.changedAt[rec.ID] = w.clock.Now()
}

// consoleRecreate deletes a configuration and makes a new one with the same
// name and content: a second cluster running the same manifests, or a
// person restoring it by hand.
func (w *modelWorld) consoleRecreate(t *rapid.T) {
	account, rec := w.pickConfiguration(t)
	w.consoleRemove(account, rec)
	rec.ID = ""
	id, err := w.sim.CreateOutOfBand(account, rec)
	w.must(err)
	w.consoleMade(id, rec)
}

func (w *modelWorld) consoleEdit(t *rapid.T) {
	account, rec := w.pickConfiguration(t)
	rename := rapid.Bool().Draw(t, "rename")
	desc := rapid.SampledFrom([]string{"edited", ""}).Draw(t, "description")
	name := rapid.SampledFrom(modelUnique).Draw(t, "uniqueName")
	err := w.sim.EditOutOfBand(account, rec.ID, func(r *voicesim.Record) {
		if rename {
			r.UniqueName = name
		} else {
			r.Description = &desc
		}
	})
	if err != nil {
		t.Skip("the edit was refused")
	}
	w.changedAt[rec.ID] = w.clock.Now()
	if edited := w.remote(account, rec.ID); edited != nil {
		w.consoleMade(rec.ID, *edited)
	}
}

func (w *modelWorld) consoleDefault(t *rapid.T) {
	if rapid.Bool().Draw(t, "unset") {
		account := rapid.SampledFrom([]string{modelAccountA, modelAccountB}).Draw(t, "account")
		_ = w.sim.SetDefaultOutOfBand(account, "")
		return
	}
	account, rec := w.pickConfiguration(t)
	w.must(w.sim.SetDefaultOutOfBand(account, rec.ID))
}

// ---- the API ----

func (w *modelWorld) armFault(t *rapid.T) {
	w.wire.fault = rapid.SampledFrom([]int{faultLostAnswer, faultNotCommitted, faultLate}).Draw(t, "fault")
}

// access takes an account's access to the API away (every path answers
// 404, as when a beta ends for it) or gives it back.
func (w *modelWorld) access(t *rapid.T) {
	account := rapid.SampledFrom([]string{modelAccountA, modelAccountB}).Draw(t, "account")
	status := rapid.SampledFrom([]int{0, http.StatusNotFound, http.StatusForbidden}).Draw(t, "denied")
	w.sim.DenyAPI(account, status)
	w.denied[account] = status
}

func (w *modelWorld) commitLate(t *rapid.T) {
	if len(w.wire.held) == 0 {
		t.Skip("no POST in flight")
	}
	w.wire.commitHeld(rapid.IntRange(0, len(w.wire.held)-1).Draw(t, "held"))
}

// ---- the operator ----

func (w *modelWorld) reconcileOne(t *rapid.T) {
	obj := w.pickObject(t)
	w.reconcile(types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name})
}

func (w *modelWorld) reconcileAll(*rapid.T) {
	if w.mode == ObserveList {
		w.resync()
	}
	for _, key := range w.keys() {
		w.reconcile(key)
	}
}

// resync runs the remote view's periodic List and drops what it enqueued:
// the model reconciles whom it chooses.
func (w *modelWorld) resync() {
	w.feedHolders()
	w.op.cc.remote.resync(w.ctx)
	for {
		select {
		case <-w.op.cc.remote.events:
		default:
			return
		}
	}
}

func (w *modelWorld) tick(t *rapid.T) {
	w.clock.Step(time.Duration(rapid.IntRange(1, 30).Draw(t, "seconds")) * time.Second)
}

func (w *modelWorld) restart(*rapid.T) {
	w.op = w.newOperator()
	w.remembered = map[types.UID]string{}
}

// reconcile runs one reconcile of key and checks what it said (I4).
func (w *modelWorld) reconcile(key types.NamespacedName) {
	obj := &voicev1alpha1.ClientConfiguration{}
	if err := w.store.Get(w.ctx, key, obj); err != nil {
		return
	}
	w.feedHolders()
	if content := w.secrets[obj.Namespace]; content != secretMissing {
		w.remembered[obj.UID] = content
	}
	w.wire.current = obj
	res, err := w.op.cc.Reconcile(w.ctx, ctrl.Request{NamespacedName: key})
	if modelTrace {
		w.t.Logf("  reconciled %s: %v %v", key, res, err)
	}
	w.wire.current = nil
	w.observeRemovals()
	w.checkTruth(key)
}

// feedHolders brings the holder index up to date with the apiserver, as
// the informer's events would.
func (w *modelWorld) feedHolders() {
	h := w.op.cc.holders
	h.mu.Lock()
	h.byID, h.creating, h.recorded = map[remoteRef][]holder{}, map[remoteRef][]creation{}, map[remoteRef][]types.NamespacedName{}
	h.mu.Unlock()
	for _, obj := range w.objects() {
		h.update(nil, &obj)
	}
}

// observeRemovals notes the objects that left the apiserver.
func (w *modelWorld) observeRemovals() {
	present := map[types.UID]bool{}
	for _, obj := range w.objects() {
		present[obj.UID] = true
		w.last[obj.UID] = obj.DeepCopy()
	}
	for uid, obj := range w.last {
		if !present[uid] {
			w.removed[uid] = obj
			delete(w.last, uid)
		}
	}
}

// ---- reading the world ----

func (w *modelWorld) objects() []voicev1alpha1.ClientConfiguration {
	list := &voicev1alpha1.ClientConfigurationList{}
	w.must(w.store.List(w.ctx, list))
	sort.Slice(list.Items, func(i, j int) bool { return key(&list.Items[i]) < key(&list.Items[j]) })
	return list.Items
}

func (w *modelWorld) keys() []types.NamespacedName {
	var keys []types.NamespacedName
	for _, obj := range w.objects() {
		keys = append(keys, types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name})
	}
	return keys
}

func (w *modelWorld) pickObject(t *rapid.T) *voicev1alpha1.ClientConfiguration {
	objs := w.objects()
	if len(objs) == 0 {
		t.Skip("no object")
	}
	i := rapid.IntRange(0, len(objs)-1).Draw(t, "object")
	return &objs[i]
}

func (w *modelWorld) remote(account, id string) *voicesim.Record {
	for _, rec := range w.sim.Configurations(account) {
		if rec.ID == id {
			return &rec
		}
	}
	return nil
}

func (w *modelWorld) remoteByName(account, name string) *voicesim.Record {
	for _, rec := range w.sim.Configurations(account) {
		if rec.UniqueName == name {
			return &rec
		}
	}
	return nil
}

func (w *modelWorld) exists(id string) bool {
	for _, account := range []string{modelAccountA, modelAccountB} {
		if w.remote(account, id) != nil {
			return true
		}
	}
	return false
}

func (w *modelWorld) must(err error) {
	if err != nil {
		w.t.Fatalf("model step failed: %v", err)
	}
}

// ---- invariants ----

// check runs after every step: I1 (collected by the wire) and I2, over
// the objects whose status speaks of their current generation (a person
// who turns an ObserveOnly object to Manage leaves an id in its status
// that the next reconcile judges).
func (w *modelWorld) check(t *rapid.T) {
	if len(w.violations) > 0 {
		t.Fatalf("%s", strings.Join(w.violations, "\n"))
	}
	holders := map[string][]string{}
	for _, obj := range w.objects() {
		if obj.Status.ID != "" && obj.Spec.ManagementPolicy != voicev1alpha1.ManagementPolicyObserveOnly && obj.Status.ObservedGeneration == obj.Generation {
			ref := obj.Status.AccountSID + "/" + obj.Status.ID
			holders[ref] = append(holders[ref], key(&obj))
		}
	}
	for ref, objs := range holders {
		if len(objs) > 1 {
			t.Fatalf("I2: remote configuration %s is held by %d objects: %v\n%s", ref, len(objs), objs, w.describe())
		}
	}
}

// checkTruth is I4, after a reconcile of key: the status it wrote and the
// Events it recorded are true.
func (w *modelWorld) checkTruth(key types.NamespacedName) {
	for _, e := range w.rec.take() {
		// The id acted on is the last one a note names ("X was deleted
		// outside Kubernetes; created Y in its place").
		ids := idPattern.FindAllString(e.note, -1)
		id := ""
		if len(ids) > 0 {
			id = ids[len(ids)-1]
		}
		switch e.reason {
		case eventDeleted:
			if w.exists(id) {
				w.violations = append(w.violations, fmt.Sprintf("I4: Event Deleted (%q) but %s still exists", e.note, id))
			}
		case eventAdopted:
			if !w.exists(id) && !w.mayBeStale(id) {
				w.violations = append(w.violations, fmt.Sprintf("I4: Event %s (%q) but %s does not exist", e.reason, e.note, id))
			}
			if w.adoptedBy[id] == nil {
				w.adoptedBy[id] = map[types.UID]bool{}
			}
			w.adoptedBy[id][e.uid] = true
		case eventCreated, eventRecreated, eventRecovered:
			if !w.exists(id) && !w.mayBeStale(id) {
				w.violations = append(w.violations, fmt.Sprintf("I4: Event %s (%q) but %s does not exist (the Console changed it at %v, now %v; created for %q)",
					e.reason, e.note, id, w.changedAt[id], w.clock.Now(), w.createdFor[id]))
			}
		}
	}
	obj := &voicev1alpha1.ClientConfiguration{}
	if err := w.store.Get(w.ctx, key, obj); err != nil {
		return
	}
	if msg := w.falseSynced(obj); msg != "" && !w.mayBeStale(obj.Status.ID) {
		w.violations = append(w.violations, "I4: "+msg+"\n"+w.describe())
	}
}

// mayBeStale reports whether a status about id may speak of a List from
// before the Console's last change of it: up to two resync periods old
// with ObserveList, up to nameCheckMaxAge for a lookup by name.
func (w *modelWorld) mayBeStale(id string) bool {
	at, changed := w.changedAt[id]
	limit := nameCheckMaxAge
	if w.mode == ObserveList {
		limit = 2 * modelResync
	}
	return changed && w.clock.Since(at) <= limit
}

// falseSynced explains how a Ready=True status of obj is false, or returns "".
func (w *modelWorld) falseSynced(obj *voicev1alpha1.ClientConfiguration) string {
	ready := meta.FindStatusCondition(obj.Status.Conditions, voicev1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != voicev1alpha1.ReasonSynced || !obj.DeletionTimestamp.IsZero() {
		return ""
	}
	_, real := w.secretAccount(obj.Namespace)
	rec := w.remote(obj.Status.AccountSID, obj.Status.ID)
	switch {
	case rec == nil:
		return fmt.Sprintf("%s says Synced with %s in %s, which does not exist", key(obj), obj.Status.ID, obj.Status.AccountSID)
	case real != obj.Status.AccountSID:
		return fmt.Sprintf("%s says Synced in account %s, but its Secret's key is of account %q", key(obj), obj.Status.AccountSID, real)
	case obj.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly:
		return ""
	case rec.UniqueName != obj.Spec.UniqueName || derefString(rec.Description) != obj.Spec.Description ||
		rec.CallNotificationURL != obj.Spec.CallNotification.URL:
		return fmt.Sprintf("%s says Synced, but %s is %+v", key(obj), obj.Status.ID, *rec)
	case w.createdFor[rec.ID] != obj.UID && !w.adoptedBy[rec.ID][obj.UID] && !w.plausiblyFor[rec.ID][obj.UID] && !wantsAdoption(obj):
		return fmt.Sprintf("%s says Synced with %s, which it did not create (created for %q) and without the adopt annotation (marker %s)", key(obj), rec.ID, w.createdFor[rec.ID], obj.Annotations[voicev1alpha1.AnnotationCreateIntent])
	}
	return ""
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// settleRounds bounds convergence: each round advances the clock past
// every backoff's cap and reconciles every object.
const settleRounds = 8

// settle stops the faults, lets every held POST end (commit or not), runs
// the operator for settleRounds rounds, and checks I3 and I5.
func (w *modelWorld) settle() {
	w.wire.fault = faultNone
	for account := range w.denied {
		w.sim.DenyAPI(account, 0)
		delete(w.denied, account)
	}
	for len(w.wire.held) > 0 {
		if rapid.Bool().Draw(w.t, "heldCommits") {
			w.wire.commitHeld(0)
		} else {
			w.wire.held = w.wire.held[1:]
		}
	}
	for range settleRounds {
		w.clock.Step(6 * time.Minute)
		w.reconcileAll(w.t)
	}
	w.check(w.t)
	var problems []string
	for _, obj := range w.objects() {
		if msg := w.unsettled(&obj); msg != "" {
			problems = append(problems, "I5: "+msg)
		}
		if msg := w.falseSynced(&obj); msg != "" {
			problems = append(problems, "I4: "+msg)
		}
	}
	problems = append(problems, w.duplicatesAndLeaks()...)
	if len(problems) > 0 {
		w.t.Fatalf("after %d rounds without faults:\n%s\n%s", settleRounds, strings.Join(problems, "\n"), w.describe())
	}
}

// unsettled explains why obj has not converged, or returns "" when it has,
// or is stalled for a reason that still holds.
func (w *modelWorld) unsettled(obj *voicev1alpha1.ClientConfiguration) string {
	ready := meta.FindStatusCondition(obj.Status.Conditions, voicev1alpha1.ConditionReady)
	deleting := !obj.DeletionTimestamp.IsZero()
	if ready == nil {
		return fmt.Sprintf("%s has no Ready condition", key(obj))
	}
	if ready.Status == metav1.ConditionTrue && !deleting {
		return ""
	}
	claimed, real := w.secretAccount(obj.Namespace)
	if deleting && claimed == "" {
		// The Secret went: a deletion uses the credentials the operator
		// remembers for the object, if it does.
		claimed, real = w.accountsOf(w.remembered[obj.UID])
	}
	stillHolds := w.causeHolds(obj, ready, claimed, real, deleting)
	if deleting && ready.Status == metav1.ConditionTrue {
		return fmt.Sprintf("%s is still being deleted (finalizers %v) though Ready", key(obj), obj.Finalizers)
	}
	if !stillHolds {
		return fmt.Sprintf("%s is Ready=%s %s (%q), a cause that no longer holds (deleting %v, Secret %s)", key(obj), ready.Status, ready.Reason, ready.Message, deleting, w.secrets[obj.Namespace])
	}
	return ""
}

// duplicatesAndLeaks is I3: per object, at most one configuration the
// operator created for it still exists, and none once the object is gone
// under deletionPolicy Delete (and Manage).
func (w *modelWorld) duplicatesAndLeaks() []string {
	live := map[types.UID][]string{}
	for _, account := range []string{modelAccountA, modelAccountB} {
		for _, rec := range w.sim.Configurations(account) {
			if _, changed := w.changedAt[rec.ID]; changed && w.unanswered[rec.ID] {
				continue // made by a lost POST, then changed by the Console: no proof can find it
			}
			if uid := w.createdFor[rec.ID]; uid != "" && (len(w.adoptedBy[rec.ID]) == 0 || w.adoptedBy[rec.ID][uid]) {
				// (One another object adopted is that object's, as asked.)
				live[uid] = append(live[uid], rec.ID)
			}
		}
	}
	var problems []string
	for uid, ids := range live {
		gone, isGone := w.removed[uid]
		switch {
		case !isGone && w.keepsForeignAttempt(uid):
			// An attempt sent with credentials the object no longer has
			// lost its answer: what it made, only those can find. The
			// marker keeps the attempt, and a deletion stalls on it.
		case len(ids) > 1:
			problems = append(problems, fmt.Sprintf("I3: object %s has %d configurations the operator created for it: %v", uid, len(ids), ids))
		case isGone && gone.Spec.DeletionPolicy == voicev1alpha1.DeletionPolicyDelete &&
			gone.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyManage:
			problems = append(problems, fmt.Sprintf("I3: object %s (%s) is gone under deletionPolicy Delete, and %v it created is left", uid, key(gone), ids))
		}
	}
	return problems
}

// describe tells the objects' state, for a failure message.
func (w *modelWorld) describe() string {
	var b strings.Builder
	for _, obj := range w.objects() {
		ready := meta.FindStatusCondition(obj.Status.Conditions, voicev1alpha1.ConditionReady)
		reason := ""
		if ready != nil {
			reason = string(ready.Status) + " " + ready.Reason
		}
		fmt.Fprintf(&b, "  %s %s: %s %s gen %d/%d id %s (%s) deleting %v marker %s\n", key(&obj), obj.UID, obj.Spec.ManagementPolicy, obj.Spec.UniqueName,
			obj.Status.ObservedGeneration, obj.Generation, obj.Status.ID, reason, !obj.DeletionTimestamp.IsZero(), obj.Annotations[voicev1alpha1.AnnotationCreateIntent])
	}
	for _, account := range []string{modelAccountA, modelAccountB} {
		for _, rec := range w.sim.Configurations(account) {
			fmt.Fprintf(&b, "  remote %s %s: %s\n", account[:3], rec.ID, recordContent(rec))
		}
	}
	return b.String()
}

// username is who a namespace's Secret authenticates as.
func (w *modelWorld) username(ns string) string {
	switch w.secrets[ns] {
	case secretA:
		return modelAccountA
	case secretB:
		return modelAccountB
	case secretAWithKeyB:
		return modelKeyB
	}
	return ""
}

// keepsForeignAttempt reports whether object uid's marker still records an
// attempt sent as another user than its Secret's now.
func (w *modelWorld) keepsForeignAttempt(uid types.UID) bool {
	for _, obj := range w.objects() {
		if obj.UID != uid {
			continue
		}
		if intent := readIntent(&obj); intent != nil {
			for _, a := range intent.Attempts {
				if a.User != "" && a.User != w.username(obj.Namespace) {
					return true
				}
			}
		}
	}
	return false
}

// causeHolds reports whether the reason obj is stalled (or waits) for still
// holds in the world: claimed and real are the accounts its credentials
// name and reach.
func (w *modelWorld) causeHolds(obj *voicev1alpha1.ClientConfiguration, ready *metav1.Condition, claimed, real string, deleting bool) bool {
	holder := w.remoteByName(claimed, obj.Spec.UniqueName)
	holds := func(rec *voicesim.Record) bool { return rec != nil && rec.ID == obj.Status.ID && obj.Status.ID != "" }
	switch ready.Reason {
	case voicev1alpha1.ReasonCredentialsNotFound:
		return claimed == ""
	case voicev1alpha1.ReasonAccountMismatch:
		for _, post := range w.ambiguous {
			// A create sent with other credentials lost its answer: only
			// those can look for what it made.
			if post.uid == obj.UID && post.user != w.username(obj.Namespace) {
				return true
			}
		}
		return claimed != real
	case voicev1alpha1.ReasonAccountChanged:
		recorded := obj.Status.AccountSID
		if intent := readIntent(obj); recorded == "" && intent != nil {
			recorded = intent.Account
		}
		return recorded != "" && recorded != claimed
	case voicev1alpha1.ReasonAlreadyExists:
		return holder != nil && !holds(holder)
	case voicev1alpha1.ReasonConflict:
		// The configuration the message names is held by another Manage
		// object.
		id := idPattern.FindString(ready.Message)
		for _, other := range w.objects() {
			if other.UID != obj.UID && other.Status.ID == id && other.Spec.ManagementPolicy != voicev1alpha1.ManagementPolicyObserveOnly {
				return true
			}
		}
	case voicev1alpha1.ReasonNotFound:
		return obj.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly && holder == nil
	case voicev1alpha1.ReasonIsDefault:
		// The configuration the message names is still the default.
		id := idPattern.FindString(ready.Message)
		return deleting && w.shape.DeleteDefault == voicesim.DeleteDefaultRefused && id != "" && w.sim.Default(claimed) == id
	}
	return false
}
