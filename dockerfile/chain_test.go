package dockerfile

import (
	"reflect"
	"testing"
)

func TestChain(t *testing.T) {
	src := `ARG BASE=debian:12-slim
FROM golang:1.22 AS build
RUN go build -o /out/app .

FROM $BASE AS runtime
RUN apt-get update && \
    apt-get install -y curl
WORKDIR /app

FROM runtime
COPY --from=build /out/app /app/app
COPY --from=0 /out/app /app/again
RUN <<EOF
apt-get install -y --only-upgrade libssl3
EOF
ENV A=b
`
	got, err := Chain("Dockerfile", []byte(src), Input{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Stage{
		{Name: "stage-2", FromLine: 10, Instructions: []Instruction{
			{Kind: "COPY", Start: 11, End: 11, CopiedFrom: "build"},
			{Kind: "COPY", Start: 12, End: 12, CopiedFrom: "build"},
			{Kind: "RUN", Start: 13, End: 15},
		}},
		{Name: "runtime", FromLine: 5, Instructions: []Instruction{
			{Kind: "RUN", Start: 6, End: 7},
			{Kind: "WORKDIR", Start: 8, End: 8},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Chain:\n got %+v\nwant %+v", got, want)
	}
	if _, err := Chain("Dockerfile", []byte(src), Input{Target: "nope"}); err == nil {
		t.Error("an unknown target must be an error")
	}
}
