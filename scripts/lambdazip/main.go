// Command lambdazip packs a Lambda custom-runtime executable as the single
// entry "bootstrap" of a zip file, byte for byte the same for the same
// executable: fixed timestamp, fixed permissions, no other metadata.
//
//	go run ./scripts/lambdazip -o dist/presign.zip dist/build/presign/bootstrap
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/imagepipe/imagepipe/scripts/lambdazip/internal/pack"
)

func main() {
	out := flag.String("o", "", "zip file to write")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: lambdazip -o OUT.zip EXECUTABLE")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := pack.File(*out, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "lambdazip:", err)
		os.Exit(1)
	}
}
