#include "torusml/tfhe/serialization.h"
