// Package kube is the part of the local environment that needs Kubernetes
// libraries: a control plane started in this process (envtest) with the
// simulator beside it, for the suites and the benchmark, and the operator's
// own identity, with exactly the permissions config/rbac grants it. The
// process-based parts, which the demo uses and which must compile fast,
// are in the parent package, localenv.
package kube

import (
	"context"
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The operator's identity as config/rbac declares it, before the
// kustomizations in config/default prefix the names and set the namespace:
// the ServiceAccount controller-manager in the namespace "system".
const (
	OperatorNamespace      = "system"
	OperatorServiceAccount = "controller-manager"
	// OperatorUser is the user name the apiserver gives that
	// ServiceAccount's tokens, and the name tests impersonate.
	OperatorUser = "system:serviceaccount:" + OperatorNamespace + ":" + OperatorServiceAccount
)

// InstallRBAC creates the operator's ServiceAccount, roles and bindings
// from the files of config/rbac under root, as they are (role.yaml is
// generated from the controllers' markers). Objects that exist already are
// left alone, so it may run more than once against one control plane.
func InstallRBAC(ctx context.Context, c client.Client, root string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", OperatorNamespace, err)
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "rbac", "*.yaml"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no RBAC manifests in %s", filepath.Join(root, "config", "rbac"))
	}
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		objs, err := ReadObjects(file)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating %s %s from %s: %w", obj.GetKind(), obj.GetName(), file, err)
			}
		}
	}
	return nil
}

// AsOperator returns a copy of cfg that acts as the operator's
// ServiceAccount: every request is authorised by config/rbac, never by
// cfg's own (admin) rights, so a missing verb fails a test as it would
// fail a user. The impersonating user needs the right to impersonate, which
// envtest's admin has.
func AsOperator(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.Impersonate = rest.ImpersonationConfig{UserName: OperatorUser}
	return out
}

// OperatorKubeconfig turns an admin kubeconfig into one whose every user
// impersonates the operator's ServiceAccount, for an operator started as a
// process: it then runs with config/rbac's permissions only.
func OperatorKubeconfig(admin []byte) ([]byte, error) {
	return ImpersonatingKubeconfig(admin, OperatorUser)
}

// ImpersonatingKubeconfig is the admin kubeconfig made to act as user.
func ImpersonatingKubeconfig(admin []byte, user string) ([]byte, error) {
	cfg, err := clientcmd.Load(admin)
	if err != nil {
		return nil, fmt.Errorf("reading the admin kubeconfig: %w", err)
	}
	for _, info := range cfg.AuthInfos {
		info.Impersonate = user
	}
	return clientcmd.Write(*cfg)
}
