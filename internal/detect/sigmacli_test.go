package detect

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sigmaCLI runs sigma-cli (SigmaHQ's converter on pySigma) and returns its combined output.
func sigmaCLI(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// The exported rules convert with pySigma into Splunk and Elasticsearch (Lucene) queries, with
// no pipeline of ours; the firewarden-format rules convert through the pipeline where their
// fields have a standard form and fail, naming why, where they do not.
func TestSigmaCLIConverts(t *testing.T) {
	bin, err := exec.LookPath("sigma")
	if err != nil {
		t.Skip("sigma-cli is not installed; to run this test: pip install sigma-cli pysigma-backend-splunk pysigma-backend-elasticsearch")
	}
	dir := t.TempDir()
	rs, err := LoadRules(true)
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := Export(rs, FormatSigma)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.File), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, target := range []string{"splunk", "lucene"} {
		t.Run(target, func(t *testing.T) {
			out, err := sigmaCLI(t, bin, "convert", "-t", target, "--without-pipeline", dir)
			if err != nil {
				t.Fatalf("sigma convert -t %s EXPORTED: %v\n%s", target, err, out)
			}
			for _, want := range []string{"CommandLine", "Image", "TargetFilename", "pfctl", "socketfilterfw"} {
				if !strings.Contains(out, want) {
					t.Errorf("sigma convert -t %s: the queries lack %q:\n%s", target, want, out)
				}
			}
		})
	}
	// pySigma-backend-elasticsearch's own macOS pipeline maps the taxonomy fields to Elastic
	// Defend's ECS names (Image → process.executable …); older backends lack it.
	t.Run("lucene ecs_macos_esf", func(t *testing.T) {
		out, err := sigmaCLI(t, bin, "convert", "-t", "lucene", "-p", "ecs_macos_esf", dir)
		if err != nil && strings.Contains(out, "ecs_macos_esf") {
			t.Skipf("this pySigma-backend-elasticsearch has no ecs_macos_esf pipeline: %s", out)
		}
		if err != nil || !strings.Contains(out, "process.command_line") || !strings.Contains(out, "file.path") {
			t.Errorf("sigma convert -t lucene -p ecs_macos_esf EXPORTED = %v:\n%s\nwant queries on process.command_line and file.path", err, out)
		}
	})
	t.Run("pipeline maps", func(t *testing.T) {
		out, err := sigmaCLI(t, bin, "convert", "-t", "splunk", "-p", pipelineFile, filepath.Join("rules", "file-pf-conf.yml"))
		if err != nil || strings.Contains(out, "EventType") || !strings.Contains(out, "TargetFilename") {
			t.Errorf("sigma convert -p pipeline file-pf-conf.yml = %v:\n%s\nwant a query on TargetFilename without EventType", err, out)
		}
	})
	t.Run("pipeline fails on parsed fields", func(t *testing.T) {
		out, err := sigmaCLI(t, bin, "convert", "-t", "splunk", "-p", pipelineFile, filepath.Join("rules", "pf-disable.yml"))
		if err == nil || !strings.Contains(out, "parsing the tool's arguments") {
			t.Errorf("sigma convert -p pipeline pf-disable.yml = %v:\n%s\nwant the failure that names Action", err, out)
		}
	})
}
