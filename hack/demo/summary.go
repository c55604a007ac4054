package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"

	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// printSummary shows what a person wants once everything is Ready: the
// objects as kubectl shows them, the remote side as the simulator holds it,
// and how to take over from here.
func (d *demo) printSummary(ctx context.Context) error {
	objects, err := d.cp.Kubectl.Run(ctx, "get", "twilio", "-o", "wide")
	if err != nil {
		return err
	}
	account, err := d.sim.Account(ctx, localenv.DemoAccountSID)
	if err != nil {
		return err
	}
	d.progress.Printf("Everything is Ready")

	fmt.Printf("\n$ kubectl get twilio -o wide\n%s\n", objects)
	fmt.Printf("Remote side: the simulator's %s/_sim/state, account %s\n", d.sim.URL, account.AccountSID)
	printRemote(account)
	fmt.Println()
	d.printNextSteps(account)
	return nil
}

// printRemote prints one account's configurations as a table; DEFAULT marks
// the account's default configuration.
func printRemote(account voicesim.AccountState) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintln(w, "  DEFAULT\tID\tUNIQUE NAME\tMETHOD\tURL")
	for _, c := range account.Configurations {
		mark := ""
		if c.ID == account.Default {
			mark = "*"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", mark, c.ID, c.UniqueName, c.CallNotificationMethod, c.CallNotificationURL)
	}
	if len(account.Configurations) == 0 {
		fmt.Fprintln(w, "  (no configurations)")
	}
	_ = w.Flush()
}

// printNextSteps prints the commands to try while the demo runs. They are
// meant to be copied, so they carry absolute paths.
func (d *demo) printNextSteps(account voicesim.AccountState) {
	if d.options.exitAfterReady {
		fmt.Println("--exit-after-ready: stopping everything now.")
		return
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	// cmd prints a command with its comment aligned after it.
	cmd := func(command, comment string) {
		if comment == "" {
			line("  %s", command)
			return
		}
		line("  %-42s # %s", command, comment)
	}

	line("The demo keeps running. In another terminal:")
	line("")
	cmd("export KUBECONFIG="+d.cp.Kubeconfig, "")
	if _, err := exec.LookPath("kubectl"); err != nil {
		cmd("export PATH="+d.assets+":$PATH", "the kubectl the toolchain built")
	}
	line("")
	cmd("kubectl get twilio -o wide", "both kinds (category twilio)")
	cmd("kubectl describe vcc web-softphone", "conditions and Events")
	cmd(`kubectl patch vcc web-softphone --type=merge -p '{"spec":{"callNotification":{"url":"https://example.com/voice/v2"}}}'`, "")
	cmd("kubectl edit vcc mobile-app", "")
	cmd("kubectl delete vcc mobile-app", "deletionPolicy Orphan: the remote configuration stays")
	cmd("kubectl delete vcc web-softphone", "deletes the remote one; the AccountDefault then waits")
	cmd("curl -s "+d.sim.URL+"/_sim/state", "the remote side")
	if id := idOf(account, "web-softphone"); id != "" {
		line("")
		line("  # Change the remote side behind the operator's back; it is put back within --resync-period (%s):", d.options.resync)
		cmd(fmt.Sprintf(`curl -s -X PATCH %s/_sim/accounts/%s/configurations/%s -d '{"callnotification_url":"https://example.com/changed-by-hand"}'`,
			d.sim.URL, account.AccountSID, id), "")
	}
	line("")
	line("Logs: %s (operator), %s (simulator).", d.rel(d.operatorLog.Name()), d.rel(d.simLog.Name()))
	line("Press Ctrl-C here to stop the operator, the simulator and the control plane.")
	fmt.Print(b.String())
}

// idOf returns the id of the configuration with this unique name, or "".
func idOf(account voicesim.AccountState, uniqueName string) string {
	for _, c := range account.Configurations {
		if c.UniqueName == uniqueName {
			return c.ID
		}
	}
	return ""
}
