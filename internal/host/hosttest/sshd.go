package hosttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RealSSHD lays out, under root, a Debian-like SSH server whose daemon is the real
// /usr/sbin/sshd of this machine: ROOT/usr/sbin/sshd is a stand-in script that runs it with
// `-f ROOT/etc/ssh/sshd_config -h KEY` (KEY a scratch ed25519 host key made here), so that
// `sshd -T` and `sshd -t` judge the fake root's configuration, never the real /etc/ssh.
// ROOT/etc/ssh/sshd_config is Debian's stock one (an Include of sshd_config.d/*.conf first, by
// the absolute host path since the real sshd reads it), ROOT/usr/bin/systemctl records its argv
// (Runs) and ROOT/lib/systemd/system/ssh.service exists, as on Debian and Ubuntu.
//
// sshd refuses to run without its privilege separation directory /run/sshd; where the machine
// has none, the stand-in runs sshd in a new mount namespace (unshare -m makes its mounts private
// by default, so nothing reaches the host) with a fresh tmpfs on /run, which needs root. The test is skipped, saying what to install or how to run it, when sshd, ssh-keygen
// or that namespace are not available. RealSSHD returns the host key's path.
func RealSSHD(t testing.TB, root string) (hostKey string) {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("no /usr/sbin/sshd: install openssh-server to run the tests against the real SSH daemon")
	}
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("no ssh-keygen: install openssh-client to run the tests against the real SSH daemon")
	}
	if _, err := os.Stat("/run/sshd"); err != nil {
		if out, err := exec.Command("unshare", "-m", "/bin/sh", "-c", "mount -t tmpfs fw-sshd-probe /run").CombinedOutput(); err != nil {
			t.Skipf("sshd needs /run/sshd, and a private mount namespace to make one failed (%v: %s): run the tests as root", err, out)
		}
	}
	key := filepath.Join(t.TempDir(), "hostkey")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	files := map[string]string{
		// Debian 12's stock sshd_config, comments left out, the Include by its host path.
		"/etc/ssh/sshd_config": "Include " + filepath.Join(root, "etc/ssh/sshd_config.d") + "/*.conf\n" +
			"KbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\nPrintMotd no\nAcceptEnv LANG LC_*\n" +
			"Subsystem\tsftp\t/usr/lib/openssh/sftp-server\n",
		"/lib/systemd/system/ssh.service": "[Unit]\nDescription=OpenBSD Secure Shell server (stand-in)\n",
	}
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/ssh/sshd_config.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	StandInScript(t, root, "/usr/sbin/sshd", `set -- -f "$root/etc/ssh/sshd_config" -h '`+key+`' "$@"
if [ -d /run/sshd ]; then exec /usr/sbin/sshd "$@"; fi
exec unshare -m /bin/sh -c 'mount -t tmpfs -o mode=755 fw-sshd-test /run && mkdir -m 755 /run/sshd && exec /usr/sbin/sshd "$@"' sh "$@"
`)
	StandInScript(t, root, "/usr/bin/systemctl", RecordRun)
	return key
}
