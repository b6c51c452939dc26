package sbom

import (
	"slices"
	"testing"
)

// Jars osv-scalibr cannot name are named from their manifest and file name,
// never merged into one "unknown" package.
func TestCatalogJarWithManifestOnly(t *testing.T) {
	root := t.TempDir()
	manifest := func(lines string) zipEntry {
		return zipEntry{name: "META-INF/MANIFEST.MF", data: []byte("Manifest-Version: 1.0\r\n" + lines + "\r\n")}
	}
	writeBytes(t, root, "usr/lib/jvm/lib/jrt-fs.jar", zipFiles(t, manifest("Implementation-Title: Java Runtime Environment\r\nImplementation-Version: 17.0.19")), 0o644)
	writeBytes(t, root, "usr/share/java/other.jar", zipFiles(t, manifest("Bundle-Version: 2.1\r\n")), 0o644)
	writeBytes(t, root, "usr/share/java/noversion.jar", zipFiles(t, manifest("Created-By: hand")), 0o644)
	s := mustCatalog(t, root)
	got := purls(s)
	want := []string{"pkg:maven/jrt-fs/jrt-fs@17.0.19", "pkg:maven/other/other@2.1"}
	if !slices.Equal(got, want) {
		t.Errorf("purls %v, want %v (and no unknown package)", got, want)
	}
	if p := requirePackage(t, s, "pkg:maven/jrt-fs/jrt-fs@17.0.19"); !slices.Equal(p.Locations, []string{"/usr/lib/jvm/lib/jrt-fs.jar"}) {
		t.Errorf("jrt-fs locations %v", p.Locations)
	}
}

func TestManifestValues(t *testing.T) {
	data := []byte("Manifest-Version: 1.0\r\nImplementation-Version: 1.2.3-very-long-version-string-that-the-72-byte-rule\r\n  -wraps\r\nbundle-version:  4.5 \r\n\r\nName: section\r\nImplementation-Version: 9\r\n")
	got := manifestValues(data, "Implementation-Version", "Bundle-Version", "Missing")
	want := []string{"1.2.3-very-long-version-string-that-the-72-byte-rule -wraps", "4.5", ""}
	if !slices.Equal(got, want) {
		t.Errorf("manifestValues %q, want %q", got, want)
	}
}

func FuzzManifestValues(f *testing.F) {
	f.Add([]byte("Manifest-Version: 1.0\r\nImplementation-Version: 17.0.19\r\n"))
	f.Add([]byte(" continuation first\nKey:\n  x\n\nAfter: blank"))
	f.Add([]byte(":::\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := manifestValues(data, "Implementation-Version", "Bundle-Version")
		if len(got) != 2 {
			t.Fatalf("%d values for 2 keys", len(got))
		}
	})
}

// Only package.json files inside node_modules are installed npm packages.
func TestCatalogNodeModulesOnly(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"app/package.json":                                      `{"name": "app", "version": "1.0.0"}`,
		"app/node_modules/left-pad/package.json":                `{"name": "left-pad", "version": "1.3.0", "license": "WTFPL"}`,
		"usr/share/nodejs/debian-mod/package.json":              `{"name": "debian-mod", "version": "2.0.0"}`,
		"usr/share/nodejs/npm/node_modules/abbrev/package.json": `{"name": "abbrev", "version": "1.1.1"}`,
	})
	got := purls(mustCatalog(t, root))
	want := []string{"pkg:npm/abbrev@1.1.1", "pkg:npm/left-pad@1.3.0"}
	if !slices.Equal(got, want) {
		t.Errorf("purls %v, want %v", got, want)
	}
}
