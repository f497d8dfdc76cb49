// Versioned binary serialization of TFHE keys and ciphertexts (being written).
#pragma once
