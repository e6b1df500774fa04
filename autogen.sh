#!/bin/sh
# autogen.sh: regenerate the autotools files (configure, Makefile.in).
exec autoreconf -fi
