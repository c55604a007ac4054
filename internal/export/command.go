package export

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// Exit statuses of Main.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

const usage = `Usage: voice-operator export [flags]

Writes one ClientConfiguration for every Client Configuration of a Twilio
account, and an AccountDefault for its default, as YAML ready to commit and
apply. Every field is exactly as Twilio holds it and every object carries the
adopt annotation, so applying them changes nothing in Twilio: the operator
takes the configurations over as they are. Objects are written with
deletionPolicy Orphan unless --deletion-policy says otherwise, so deleting
the YAML never deletes a configuration by accident.

Credentials come from the environment, with Twilio's own names:
TWILIO_ACCOUNT_SID plus TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and
TWILIO_API_SECRET; optionally TWILIO_REGION and TWILIO_EDGE. Or from a
Secret with those keys: --from-secret NAMESPACE/NAME, read with the current
kubeconfig. They are never printed.

Examples:
  voice-operator export > account.yaml
  voice-operator export --output-dir voice/ --namespace voice
  voice-operator export --from-secret voice/twilio-credentials --management-policy ObserveOnly

Flags:
`

// config is the command line.
type config struct {
	output, outputDir, namespace string
	force                        bool
	credentialsSecret            string
	managementPolicy             string
	deletionPolicy               string
	fromSecret, kubeconfig       string
	voiceAPIURL                  string
	pageSize                     int
	timeout                      time.Duration
}

// Main runs `voice-operator export` with args (those after "export") and
// returns its exit status. getenv reads the environment (os.Getenv).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, userAgentVersion string) int {
	cfg, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "export:", err)
		return ExitUsage
	}
	opts := Options{
		CredentialsSecret: cfg.credentialsSecret,
		ManagementPolicy:  voicev1alpha1.ManagementPolicy(cfg.managementPolicy),
		DeletionPolicy:    voicev1alpha1.DeletionPolicy(cfg.deletionPolicy),
		Namespace:         cfg.namespace,
	}
	creds, err := credentials(ctx, cfg, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "export:", err)
		return ExitError
	}
	client, err := voice.NewFactory(voice.Options{
		BaseURL: cfg.voiceAPIURL, RequestTimeout: cfg.timeout, PageSize: cfg.pageSize, Version: userAgentVersion,
		// A person waits for the answer: sit a 429 out rather than fail.
		RetryThrottled: true,
	}).For(creds)
	if err != nil {
		fmt.Fprintln(stderr, "export:", err)
		return ExitError
	}
	acct, err := Collect(ctx, client)
	if err != nil {
		fmt.Fprintf(stderr, "export: reading account %s: %v\n", creds.AccountSID, err)
		return ExitError
	}
	res := Build(acct, opts)
	if cfg.outputDir != "" {
		err = WriteDir(cfg.outputDir, res, opts, cfg.force)
	} else {
		err = WriteStream(stdout, res, opts)
	}
	if err != nil {
		fmt.Fprintln(stderr, "export:", err)
		return ExitError
	}
	summarize(stderr, cfg, res)
	return ExitOK
}

func parse(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.output, "o", "yaml", "Output format of the stream on stdout: yaml (the only one).")
	fs.StringVar(&c.output, "output", "yaml", "Same as -o.")
	fs.StringVar(&c.outputDir, "output-dir", "", "Write one file per object and a kustomization.yaml into this folder instead of a stream on stdout. A folder that holds anything is refused, unless --force.")
	fs.BoolVar(&c.force, "force", false, "With --output-dir: write into a folder that is not empty, replacing the files an earlier export wrote there.")
	fs.StringVar(&c.namespace, "namespace", "", "metadata.namespace of every object (default: none; kubectl apply -n or a kustomization chooses).")
	fs.StringVar(&c.namespace, "n", "", "Same as --namespace.")
	fs.StringVar(&c.credentialsSecret, "credentials-secret", "twilio-credentials", "The Secret every object's credentialsRef names, in the objects' namespace.")
	fs.StringVar(&c.managementPolicy, "management-policy", string(voicev1alpha1.ManagementPolicyManage), "Manage (correct drift) or ObserveOnly (only read and report). ObserveOnly writes no AccountDefault.")
	fs.StringVar(&c.deletionPolicy, "deletion-policy", string(voicev1alpha1.DeletionPolicyOrphan), "Orphan (deleting an object leaves Twilio as it is) or Delete (deleting an object deletes its configuration, and unsets the default).")
	fs.StringVar(&c.fromSecret, "from-secret", "", "Read the credentials from this Secret (NAMESPACE/NAME) with the current kubeconfig, instead of the environment.")
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "The kubeconfig for --from-secret (default: $KUBECONFIG, then ~/.kube/config).")
	fs.StringVar(&c.voiceAPIURL, "voice-api-url", "", "Base URL of the Voice API, overriding https://voice.twilio.com and any region/edge (for the simulator).")
	fs.IntVar(&c.pageSize, "list-page-size", voice.DefaultPageSize, "Page size of the List requests.")
	fs.DurationVar(&c.timeout, "voice-api-timeout", 10*time.Second, "Timeout of one request to the Voice API.")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	switch {
	case c.output != "yaml":
		return c, fmt.Errorf("-o %q: only yaml is supported", c.output)
	case c.managementPolicy != string(voicev1alpha1.ManagementPolicyManage) && c.managementPolicy != string(voicev1alpha1.ManagementPolicyObserveOnly):
		return c, fmt.Errorf("--management-policy %q: want Manage or ObserveOnly", c.managementPolicy)
	case c.deletionPolicy != string(voicev1alpha1.DeletionPolicyOrphan) && c.deletionPolicy != string(voicev1alpha1.DeletionPolicyDelete):
		return c, fmt.Errorf("--deletion-policy %q: want Orphan or Delete", c.deletionPolicy)
	case c.pageSize < 1 || c.pageSize > 1000:
		return c, fmt.Errorf("--list-page-size %d: want 1 to 1000", c.pageSize)
	}
	if errs := validation.IsDNS1123Subdomain(c.credentialsSecret); len(errs) > 0 {
		return c, fmt.Errorf("--credentials-secret %q: %s", c.credentialsSecret, strings.Join(errs, "; "))
	}
	if c.namespace != "" {
		if errs := validation.IsDNS1123Label(c.namespace); len(errs) > 0 {
			return c, fmt.Errorf("--namespace %q: %s", c.namespace, strings.Join(errs, "; "))
		}
	}
	if c.voiceAPIURL != "" {
		if u, err := url.Parse(c.voiceAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("--voice-api-url %q is not an absolute http(s) URL", c.voiceAPIURL)
		}
	}
	return c, nil
}

// credentials reads them from the Secret --from-secret names, or else from
// the environment. Errors name keys, never values.
func credentials(ctx context.Context, cfg config, getenv func(string) string) (voice.Credentials, error) {
	if cfg.fromSecret == "" {
		data := map[string][]byte{}
		for _, key := range []string{voice.KeyAccountSID, voice.KeyAuthToken, voice.KeyAPIKey, voice.KeyAPISecret, voice.KeyRegion, voice.KeyEdge} {
			if v := getenv(key); v != "" {
				data[key] = []byte(v)
			}
		}
		creds, err := voice.CredentialsFromSecretData(data)
		if err != nil {
			return creds, fmt.Errorf("credentials from the environment: %w (or read them from a Secret with --from-secret NAMESPACE/NAME)", err)
		}
		return creds, nil
	}
	ns, name, ok := strings.Cut(cfg.fromSecret, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return voice.Credentials{}, fmt.Errorf("--from-secret %q: want NAMESPACE/NAME", cfg.fromSecret)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = cfg.kubeconfig
	rest, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return voice.Credentials{}, fmt.Errorf("--from-secret: loading the kubeconfig: %w", err)
	}
	core, err := corev1client.NewForConfig(rest)
	if err != nil {
		return voice.Credentials{}, err
	}
	secret, err := core.Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return voice.Credentials{}, fmt.Errorf("--from-secret: %w", err)
	}
	creds, err := voice.CredentialsFromSecretData(secret.Data)
	if err != nil {
		return creds, fmt.Errorf("the Secret %s: %w", cfg.fromSecret, err)
	}
	return creds, nil
}

// Collect lists every configuration of the account, page by page, and reads
// its default.
func Collect(ctx context.Context, client *voice.Client) (Account, error) {
	acct := Account{SID: client.AccountSID()}
	for c, err := range client.List(ctx, 0) {
		if err != nil {
			return acct, err
		}
		acct.Configurations = append(acct.Configurations, *c)
	}
	def, err := client.GetDefault(ctx)
	switch {
	case voice.IsNotFound(err):
	case err != nil:
		return acct, err
	default:
		acct.DefaultID = def.ID
	}
	return acct, nil
}

// summarize tells the person what was written, on stderr so a stream on
// stdout stays clean.
func summarize(w io.Writer, cfg config, res Result) {
	where := "stdout"
	if cfg.outputDir != "" {
		where = cfg.outputDir
	}
	configurations := len(res.Objects)
	if res.DefaultNote == "" {
		configurations--
	}
	fmt.Fprintf(w, "export: account %s: %d ClientConfigurations", res.Account, configurations)
	if res.DefaultNote == "" {
		fmt.Fprint(w, " and an AccountDefault")
	}
	fmt.Fprintf(w, " written to %s (deletionPolicy %s)\n", where, cfg.deletionPolicy)
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "export: not exported: %q (%s): %s\n", s.UniqueName, s.ID, s.Reason)
	}
	for _, name := range slices.Sorted(maps.Keys(res.BasicAuthSecrets)) {
		fmt.Fprintf(w, "export: create Secret %s (keys username, password) before applying ClientConfiguration %s: its webhook URL carries credentials\n", res.BasicAuthSecrets[name], name)
	}
}
