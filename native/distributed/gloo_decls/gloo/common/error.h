// Declaration-only stand-in for gloo's header of this name (see ../../README.md): ProcessGroupGloo.hpp
// includes it but names nothing from it.
#pragma once
