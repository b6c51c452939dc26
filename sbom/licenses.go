package sbom

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
)

// npmLicenses reads the license a package.json declares: "license" as a
// string or an object with a type, or the older "licenses" list.
func npmLicenses(data []byte) []string {
	var doc struct {
		License  json.RawMessage   `json:"license"`
		Licenses []json.RawMessage `json:"licenses"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return nil
	}
	var out []string
	for _, raw := range append([]json.RawMessage{doc.License}, doc.Licenses...) {
		if l := npmLicense(raw); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func npmLicense(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return firstLine(s)
	}
	var obj struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return firstLine(obj.Type)
	}
	return ""
}

// pythonLicenses reads the license of a core metadata file (METADATA,
// PKG-INFO): License-Expression, else a one-line License, else the names in
// the "License ::" classifiers.
func pythonLicenses(data []byte) []string {
	var expression, license string
	var classifiers []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break // the headers end at the first blank line; the description follows
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // a continuation of a multi-line header
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = firstLine(value)
		switch strings.ToLower(key) {
		case "license-expression":
			expression = value
		case "license":
			license = value
		case "classifier":
			if rest, ok := strings.CutPrefix(value, "License ::"); ok {
				parts := strings.Split(rest, "::")
				if name := strings.TrimSpace(parts[len(parts)-1]); name != "" {
					classifiers = append(classifiers, name)
				}
			}
		}
	}
	switch {
	case expression != "":
		return []string{expression}
	case license != "" && !strings.EqualFold(license, "UNKNOWN") && len(license) <= 100:
		return []string{license}
	}
	return classifiers
}
