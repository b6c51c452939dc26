package sbom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/inventory"
	"github.com/google/osv-scalibr/plugin"
	scalibrpurl "github.com/google/osv-scalibr/purl"
)

// composerInstalled reads vendor/composer/installed.json, the record of the
// PHP packages Composer installed. osv-scalibr reads only composer.lock, which
// lists what a project asks for, not what an image holds; this reader is ours.
type composerInstalled struct{}

func (composerInstalled) Name() string                       { return "php/composerinstalled" }
func (composerInstalled) Version() int                       { return 0 }
func (composerInstalled) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

func (composerInstalled) FileRequired(api filesystem.FileAPI) bool {
	return strings.HasSuffix("/"+api.Path(), "/vendor/composer/installed.json")
}

func (composerInstalled) Extract(_ context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	data, err := readBounded(in.Reader, slashPath(in.Path), maxMetadataFileSize)
	if err != nil {
		return inventory.Inventory{}, err
	}
	// A bad record ends the parse; the records before it are kept.
	pkgs, err := parseComposerInstalled(data)
	out := make([]*extractor.Package, 0, len(pkgs))
	for _, p := range pkgs {
		out = append(out, &extractor.Package{
			Name:     p.Name,
			Version:  p.Version,
			PURLType: scalibrpurl.TypeComposer,
			Licenses: p.Licenses,
			Location: extractor.LocationFromPath(in.Path),
		})
	}
	return inventory.Inventory{Packages: out}, err
}

type composerPackage struct {
	Name     string
	Version  string
	Licenses []string
}

// parseComposerInstalled reads both shapes of installed.json: Composer 1's
// bare list and Composer 2's {"packages": [...]}. A record without a
// "vendor/name" name or a version is an error, not a package.
func parseComposerInstalled(data []byte) ([]composerPackage, error) {
	type record struct {
		Name    string          `json:"name"`
		Version string          `json:"version"`
		License json.RawMessage `json:"license"`
	}
	var records []record
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "[") {
		if err := json.Unmarshal(data, &records); err != nil {
			return nil, fmt.Errorf("parse composer installed.json: %w", err)
		}
	} else {
		var doc struct {
			Packages *[]record `json:"packages"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("parse composer installed.json: %w", err)
		}
		if doc.Packages == nil {
			return nil, errors.New("parse composer installed.json: no \"packages\" list")
		}
		records = *doc.Packages
	}
	out := make([]composerPackage, 0, len(records))
	for i, r := range records {
		vendor, name, ok := strings.Cut(r.Name, "/")
		if !ok || vendor == "" || name == "" || r.Version == "" {
			return out, fmt.Errorf("composer installed.json package %d: want a \"vendor/name\" name and a version, got name %q version %q", i, r.Name, r.Version)
		}
		out = append(out, composerPackage{Name: r.Name, Version: r.Version, Licenses: composerLicenses(r.License)})
	}
	return out, nil
}

// composerLicenses takes "license" as a list of SPDX ids or a single string.
func composerLicenses(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}
	}
	return nil
}
