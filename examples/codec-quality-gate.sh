#!/usr/bin/env bash
# Quality gate for a codec: encode every reference image, decode it again, and compare
# the decoded images with the references using iqa's gates and a committed baseline.
#
#   examples/codec-quality-gate.sh REFS_DIR [OUT_DIR]
#
# Writes OUT_DIR/quality.json (the full result, self-describing) and OUT_DIR/quality.xml
# (JUnit: one test case per image and gate). Exit code: 0 all gates pass, 1 a gate
# failed, 2 a usage or input error (a file that cannot be read, an image without partner).
#
# Environment:
#   QUALITY=75                        encoder quality
#   BASELINE=quality/baseline.json    results of the last accepted run (commit this file)
#   UPDATE_BASELINE=1                 accept this run: save its results as the baseline
#
# The codec here is libwebp's cwebp/dwebp (Debian/Ubuntu package "webp"); put your own
# encoder and decoder in encode_decode. dwebp writes RGB even for a gray reference, so
# the comparison uses --channels rgb (a gray reference is repeated into three channels;
# any colour the codec added to a gray image counts as error).
set -euo pipefail

refs=${1:?usage: $0 REFS_DIR [OUT_DIR]}
refs=${refs%/}
out=${2:-quality-report}
quality=${QUALITY:-75}
baseline=${BASELINE:-quality/baseline.json}
update=${UPDATE_BASELINE:-0}

encode_decode() {  # encode_decode REF ENCODED DECODED
  cwebp -quiet -q "$quality" "$1" -o "$2"
  dwebp -quiet "$2" -o "$3"
}

rm -rf "$out"
mkdir -p "$out/encoded" "$out/decoded"
while IFS= read -r -d '' ref; do
  rel=${ref#"$refs"/}
  stem=${rel%.*}
  mkdir -p "$(dirname "$out/encoded/$rel")" "$(dirname "$out/decoded/$rel")"
  encode_decode "$ref" "$out/encoded/$stem.webp" "$out/decoded/$stem.png"
done < <(find "$refs" -type f -name '*.png' -print0)

gates=(--fail-if 'psnr<30' --fail-if 'mean(psnr)<34' --fail-if 'min(ssim)<0.9')
if [[ -f $baseline && $update != 1 ]]; then
  # Per image: 0.05 dB of PSNR and 0.1 % of SSIM may move either way; more fails.
  gates+=(--baseline "$baseline" --tolerance 'psnr=0.05,ssim=0.1%' --two-sided)
fi

# With the results in a file, iqa prints its verdict (failing gates, worst pairs) on stderr.
status=0
iqa compare "$refs" "$out/decoded" -m psnr,ssim --channels rgb "${gates[@]}" \
  --format json -o "$out/quality.json" --junit "$out/quality.xml" || status=$?

if [[ $update == 1 ]]; then
  if [[ $status != 0 ]]; then
    echo "baseline not updated: this run did not pass (exit code $status)" >&2
    exit "$status"
  fi
  mkdir -p "$(dirname "$baseline")"
  cp "$out/quality.json" "$baseline"
  echo "baseline updated: $baseline (commit it)"
fi
exit "$status"
