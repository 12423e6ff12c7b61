// Forwarding header: the UTF-8 helpers are text/utf8.h (atman::text) now. Kept only because
// explain/candidates.cpp and eval/squad.cpp, which other work is changing at the same time, still
// include this path; delete it once they include text/utf8.h.
#pragma once

#include "text/utf8.h"

namespace atman::tokenizers {

using text::decode_utf8;
using text::encode_utf8;
using text::repair_utf8;

}  // namespace atman::tokenizers
