#!/usr/bin/env bash
# Installs Debian's pdflatex with booktabs when missing: a test compiles the paper table that
# `crnkit analyze` writes as LaTeX.
set -euo pipefail
if command -v pdflatex >/dev/null 2>&1 && kpsewhich booktabs.sty >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "error: pdflatex with booktabs is missing; install Debian's texlive-latex-base and texlive-latex-recommended (as root: apt-get install -y texlive-latex-base texlive-latex-recommended)" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  texlive-latex-base texlive-latex-recommended
