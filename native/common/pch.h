// Precompiled header: the two large include trees every translation unit needs.
#pragma once
#include <napi.h>
#include <torch/torch.h>
