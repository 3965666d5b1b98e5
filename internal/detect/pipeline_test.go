package detect

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// pipelineFile is the pySigma processing pipeline that documents firewarden's own fields.
const pipelineFile = "../../docs/sigma/firewarden-pipeline.yml"

// pySigmaTransformations are the transformation types the pipeline may use: those pySigma
// registers in sigma/processing/transformations/__init__.py (SigmaHQ/pySigma 0c15d53, 2026-08-12).
var pySigmaTransformations = []string{
	"field_name_mapping", "field_name_prefix_mapping", "field_name_transform", "drop_detection_item",
	"hashes_fields", "extract_fields", "field_name_suffix", "field_name_prefix", "wildcard_placeholders",
	"value_placeholders", "query_expression_placeholders", "add_condition", "change_logsource",
	"add_field", "remove_field", "set_field", "replace_string", "map_string", "set_state", "regex",
	"set_value", "convert_type", "rule_failure", "detection_item_failure",
	"strict_field_mapping_failure", "set_custom_attribute", "nest", "case",
}

type pipelineItem struct {
	ID                  string            `yaml:"id"`
	Type                string            `yaml:"type"`
	Mapping             map[string]string `yaml:"mapping"`
	Message             string            `yaml:"message"`
	FieldNameConditions []struct {
		Type   string   `yaml:"type"`
		Fields []string `yaml:"fields"`
	} `yaml:"field_name_conditions"`
}

// The pipeline is a pySigma pipeline (name, priority, transformations of known types with
// unique ids) in which every field firewarden fills outside Sigma's taxonomy has one entry that
// says what becomes of it: mapped to a standard field or a failure with a message. A field added
// to FieldNames without an entry fails here.
func TestPipelineDocumentsEveryOwnField(t *testing.T) {
	data, err := os.ReadFile(pipelineFile)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Name            string         `yaml:"name"`
		Priority        int            `yaml:"priority"`
		Transformations []pipelineItem `yaml:"transformations"`
	}
	if err := yaml.Unmarshal(data, &p); err != nil {
		t.Fatalf("%s: %v", pipelineFile, err)
	}
	if p.Name == "" || p.Priority == 0 || len(p.Transformations) == 0 {
		t.Fatalf("%s: name %q, priority %d, %d transformations: want all three", pipelineFile, p.Name, p.Priority, len(p.Transformations))
	}
	taxonomy := append(TaxonomyFields("process_creation"), TaxonomyFields("file_event")...)
	standard := map[string]bool{}
	for _, f := range taxonomy {
		standard[f] = true
	}
	mapped := map[string]string{}  // field → standard field
	failed := map[string]string{}  // field → the failure's id
	touched := map[string]string{} // field → a value transformation's id
	ids := map[string]bool{}
	for _, it := range p.Transformations {
		if !slices.Contains(pySigmaTransformations, it.Type) {
			t.Errorf("transformation %s: type %q is not one of pySigma's", it.ID, it.Type)
		}
		if it.ID == "" || ids[it.ID] {
			t.Errorf("transformation of type %s: id %q missing or used twice", it.Type, it.ID)
		}
		ids[it.ID] = true
		var fields []string
		for _, c := range it.FieldNameConditions {
			if c.Type == "include_fields" {
				fields = append(fields, c.Fields...)
			}
		}
		switch it.Type {
		case "field_name_mapping":
			for from, to := range it.Mapping {
				if !standard[to] {
					t.Errorf("%s maps %s to %s, which is not a taxonomy field", it.ID, from, to)
				}
				mapped[from] = to
			}
		case "detection_item_failure":
			if strings.TrimSpace(it.Message) == "" {
				t.Errorf("%s fails without a message", it.ID)
			}
			for _, f := range fields {
				if prev, ok := failed[f]; ok {
					t.Errorf("%s is failed by both %s and %s", f, prev, it.ID)
				}
				failed[f] = it.ID
			}
		default:
			for _, f := range fields {
				touched[f] = it.ID
			}
		}
	}
	for f, id := range touched {
		if mapped[f] == "" && failed[f] == "" {
			t.Errorf("%s changes values of %s, which is then neither mapped nor failed", id, f)
		}
	}
	for _, f := range FieldNames {
		if standard[f.Name] {
			if mapped[f.Name] != "" || failed[f.Name] != "" {
				t.Errorf("%s is a taxonomy field: the pipeline must leave it alone", f.Name)
			}
			continue
		}
		switch m, fl := mapped[f.Name], failed[f.Name]; {
		case m == "" && fl == "":
			t.Errorf("firewarden's field %s (%s) has no entry in %s", f.Name, f.Doc, pipelineFile)
		case m != "" && fl != "" && f.Name != "EventType":
			t.Errorf("%s is both mapped to %s and failed by %s", f.Name, m, fl)
		}
		if !strings.Contains(string(data), f.Name) {
			t.Errorf("%s does not mention %s", pipelineFile, f.Name)
		}
	}
}
