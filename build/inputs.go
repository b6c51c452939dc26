package build

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/moby/buildkit/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"
)

// The frontend reads the database and the policy as named contexts; their
// names are the frontend's, passed in by its caller, so that this package
// needs no import of it.

// SendDatabase sends the vulnerability database in dir as the named context
// name (secure-build-db), only its archive files and their index, as an image for platform,
// the builder's (NewImageInput): named by its content, it reaches the
// builder only when the builder does not hold it already. A missing or
// damaged database stops the build before it starts, saying how to get
// one; archives checked once are not read again until they change.
func SendDatabase(solve *client.SolveOpt, name, dir string, platform ocispecs.Platform) error {
	archives, err := vuln.Archives(dir)
	if err != nil {
		return err
	}
	var files []LayerFile
	for _, a := range archives {
		files = append(files, LayerFile{Name: a + ".db", Host: filepath.Join(dir, a+".db")})
	}
	// The layer holds the archives compressed, and their index: the builder
	// unpacks a sixth of the bytes, and the scan step expands in memory only
	// the archives its packages are looked up in. The index's format is part
	// of the layer's name in the cache.
	sources := append(slices.Clone(files), LayerFile{Name: vuln.IndexFile, Data: vuln.IndexFormat()})
	compressed := func() ([]LayerFile, error) {
		db, err := vuln.Open(dir)
		if err != nil {
			return nil, err
		}
		index, err := vuln.CompressedIndex(db)
		if err == nil && !slices.Equal(db.Archives(), slices.Sorted(slices.Values(archives))) {
			// An update added or removed an archive since the folder was
			// listed: the index would not name the files the layer holds.
			err = fmt.Errorf("vulnerability database %s changed while it was read (archives %v, then %v): build again", dir, archives, db.Archives())
		}
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("vulnerability database %s: %w", dir, cerr)
		}
		if err != nil {
			return nil, err
		}
		out := make([]LayerFile, len(files))
		var g errgroup.Group
		g.SetLimit(runtime.GOMAXPROCS(0))
		for i, a := range archives {
			g.Go(func() error {
				data, err := vuln.CompressArchive(files[i].Host)
				out[i] = LayerFile{Name: vuln.CompressedName(a), Data: data}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		return append(out, LayerFile{Name: vuln.IndexFile, Data: index}), nil
	}
	in, err := NewImageInput(name, platform, layerCacheDir(), sources, compressed)
	if err != nil {
		return fmt.Errorf("vulnerability database %s: %w", dir, err)
	}
	in.AddTo(solve)
	return nil
}

// SendPolicy sends the policy file's folder as the named context name
// (secure-build-policy), naming the file by the build arg arg
// (SECURE_BUILD_POLICY): the frontend reads the file and the VEX documents
// beside it from there. Only the file and the VEX documents it names are
// sent.
func SendPolicy(solve *client.SolveOpt, name, arg, file string) error {
	if file == "" {
		return nil
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return fmt.Errorf("--policy %s: %w", file, err)
	}
	// Checked here, so that a bad file fails before the build; its VEX
	// documents are read once, by the frontend.
	data, err := policy.ReadFile(abs)
	if err != nil {
		return err
	}
	p, err := policy.Parse(abs, data)
	if err != nil {
		return err
	}
	// A VEX path is sent as written and, when it is a symlink, where it
	// leads; one that leads out of the folder is refused here, as scan and
	// verify refuse it.
	include := []string{filepath.Base(abs)}
	for _, ref := range p.VEX {
		if strings.Contains(ref, "://") {
			continue
		}
		inside, err := policy.VEXFile(filepath.Dir(abs), ref)
		if err != nil {
			return fmt.Errorf("policy %s: VEX document %s: %w", abs, ref, err)
		}
		rel, err := policy.VEXPath(ref)
		if err != nil {
			return fmt.Errorf("policy %s: VEX document %s: %w", abs, ref, err)
		}
		include = append(include, rel, filepath.ToSlash(inside))
	}
	fs, err := fsutil.NewFS(filepath.Dir(abs))
	if err == nil {
		fs, err = fsutil.NewFilterFS(fs, &fsutil.FilterOpt{IncludePatterns: include})
	}
	if err != nil {
		return fmt.Errorf("--policy %s: %w", file, err)
	}
	solve.LocalMounts[name] = fs
	solve.FrontendAttrs["context:"+name] = "local:" + name
	solve.FrontendAttrs["build-arg:"+arg] = filepath.Base(abs)
	return nil
}
