// Errors thrown by the AtMan core. Every message is meant for a person: it names the file or input
// at fault and, where possible, what to do about it. The GUI shows `what()` in a dialog as is.
#pragma once

#include <stdexcept>
#include <string>

namespace atman {

// Base class of every error the core throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A model folder, checkpoint, tokenizer or config that cannot be used.
class ModelError : public Error {
 public:
  using Error::Error;
};

// A bad user input: unreadable image, empty prompt, out-of-range option, text too long.
class InputError : public Error {
 public:
  using Error::Error;
};

// Thrown when a progress callback asked to stop. Not a failure: callers treat it as "cancelled".
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

}  // namespace atman
