package build

import (
	"fmt"
	"strings"

	"github.com/tonistiigi/go-csvvalue"
)

// addAttests maps --attest, --provenance and --sbom to the frontend's
// attest: options, and asks for minimal provenance by default, as buildx
// does. An SBOM request is served by secure-build's own scan: the frontend
// never runs BuildKit's default generator.
func addAttests(attrs map[string]string, attests []string, provenance, sbom string) error {
	for _, a := range attests {
		fields, err := csvvalue.Fields(a, nil)
		if err != nil {
			return fmt.Errorf("--attest %q: %w", a, err)
		}
		var typ string
		var rest []string
		for _, f := range fields {
			if v, ok := strings.CutPrefix(f, "type="); ok {
				typ = v
				continue
			}
			rest = append(rest, f)
		}
		if typ == "" {
			return fmt.Errorf("--attest %q: type= is required (sbom or provenance)", a)
		}
		attrs["attest:"+typ] = strings.Join(rest, ",")
	}
	for typ, v := range map[string]string{"provenance": provenance, "sbom": sbom} {
		switch v {
		case "":
		case "false", "0":
			delete(attrs, "attest:"+typ)
		case "true", "1":
			attrs["attest:"+typ] = ""
		default:
			attrs["attest:"+typ] = v
		}
	}
	if _, ok := attrs["attest:provenance"]; !ok && provenance == "" {
		attrs["attest:provenance"] = "mode=min"
	}
	return nil
}
