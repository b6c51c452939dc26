package attest

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	provenancetypes "github.com/moby/buildkit/solver/llbsolver/provenance/types"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

func hash(c string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(c, 64)} }

func desc(h v1.Hash) ocispecs.Descriptor {
	return ocispecs.Descriptor{Digest: digest.Digest(h.String())}
}

func lines(start, end int32) *pb.Locations {
	return &pb.Locations{Locations: []*pb.Location{{Ranges: []*pb.Range{{Start: &pb.Position{Line: start}, End: &pb.Position{Line: end}}}}}}
}

// TestProvenanceLayerSources: BuildKit's provenance, v0.2 and v1, as its
// own types write it: each layer of the image goes to the first step whose
// output ends with it (a step that changed nothing comes after the one
// that did), the base's layers to the docker-image source at the FROM
// line, and a layer compressed otherwise is matched by its diff ID.
func TestProvenanceLayerSources(t *testing.T) {
	const dockerfile = "FROM base\nRUN a \\\n  b\nRUN true\nCOPY x /x\n"
	layers := []v1.Descriptor{{Digest: hash("0")}, {Digest: hash("1")}, {Digest: hash("2")}, {Digest: hash("3")}}
	diffIDs := []v1.Hash{hash("a"), hash("b"), hash("c"), hash("d")}
	recompressed := desc(hash("9"))
	recompressed.Annotations = map[string]string{annotationUncompressed: diffIDs[3].String()}
	steps := []provenancetypes.BuildStep{
		{ID: "step0", Op: &pb.Op{Op: &pb.Op_Source{Source: &pb.SourceOp{Identifier: "docker-image://registry.example/base:1@sha256:" + strings.Repeat("b", 64)}}}},
		{ID: "step1", Op: &pb.Op{Op: &pb.Op_Exec{Exec: &pb.ExecOp{}}}, Inputs: []string{"step0:0"}},
		{ID: "step2", Op: &pb.Op{Op: &pb.Op_Exec{Exec: &pb.ExecOp{}}}, Inputs: []string{"step1:0"}},
		{ID: "step3", Op: &pb.Op{Op: &pb.Op_File{File: &pb.FileOp{}}}, Inputs: []string{"step2:0"}},
	}
	metadata := provenancetypes.BuildKitMetadata{
		Source: &provenancetypes.Source{
			Infos:     []provenancetypes.SourceInfo{{Filename: "Dockerfile", Language: "Dockerfile", Data: []byte(dockerfile)}},
			Locations: map[string]*pb.Locations{"step0": lines(1, 1), "step1": lines(2, 3), "step2": lines(4, 4), "step3": lines(5, 5)},
		},
		Layers: map[string][][]ocispecs.Descriptor{
			"step0:0": {{desc(hash("0")), desc(hash("1"))}},
			"step1:0": {{desc(hash("0")), desc(hash("1")), desc(hash("2"))}},
			"step2:0": {{desc(hash("0")), desc(hash("1")), desc(hash("2"))}},
			"step3:0": {{desc(hash("0")), desc(hash("1")), desc(hash("2")), recompressed}},
		},
	}
	var v02 provenancetypes.ProvenancePredicateSLSA02
	v02.BuildConfig = &provenancetypes.BuildConfig{Definition: steps}
	v02.Metadata = &provenancetypes.ProvenanceMetadataSLSA02{BuildKitMetadata: metadata}
	var v1p provenancetypes.ProvenancePredicateSLSA1
	v1p.BuildDefinition.InternalParameters.BuildConfig = &provenancetypes.BuildConfig{Definition: steps}
	v1p.RunDetails.Metadata = &provenancetypes.ProvenanceMetadataSLSA1{BuildKitMetadata: metadata}

	for predicateType, predicate := range map[string]any{ProvenanceV02PredicateType: v02, ProvenanceV1PredicateType: v1p} {
		b, err := json.Marshal(predicate)
		if err != nil {
			t.Fatal(err)
		}
		p, err := DecodeProvenance(predicateType, b)
		if err != nil {
			t.Fatalf("%s: %v", predicateType, err)
		}
		got := p.LayerSources(layers, diffIDs)
		want := []LayerSource{
			{Step: "step0", Base: true, BaseRef: "registry.example/base:1", BaseDigest: "sha256:" + strings.Repeat("b", 64), File: "Dockerfile", StartLine: 1, EndLine: 1, Instruction: "FROM base"},
			{Step: "step0", Base: true, BaseRef: "registry.example/base:1", BaseDigest: "sha256:" + strings.Repeat("b", 64), File: "Dockerfile", StartLine: 1, EndLine: 1, Instruction: "FROM base"},
			{Step: "step1", File: "Dockerfile", StartLine: 2, EndLine: 3, Instruction: "RUN a \\\n  b"},
			{Step: "step3", File: "Dockerfile", StartLine: 5, EndLine: 5, Instruction: "COPY x /x"},
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d layer sources, want %d", predicateType, len(got), len(want))
		}
		for i := range want {
			if got[i] == nil || *got[i] != want[i] {
				t.Errorf("%s: layer %d: %+v, want %+v", predicateType, i, got[i], want[i])
			}
		}
	}

	// mode=min: no layers, nothing told.
	var minimal provenancetypes.ProvenancePredicateSLSA1
	b, _ := json.Marshal(minimal)
	p, err := DecodeProvenance(ProvenanceV1PredicateType, b)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range p.LayerSources(layers, diffIDs) {
		if s != nil {
			t.Errorf("mode=min: layer %d told %+v", i, s)
		}
	}
	if _, err := DecodeProvenance(ProvenanceV1PredicateType, []byte(`{"buildDefinition": 1}`)); err == nil {
		t.Error("a predicate that is not provenance was read")
	}
}
