// Float matrices as CSV text, for the command-line client (apps/torusml_client.cpp): rows of
// comma-separated numbers, one sample per line.
//
//   feature_a,feature_b,feature_c      <- optional header: skipped when no field is a number
//   0.5,-1.25,3e-2
//   1,2,3
//
// Blank lines (and a trailing newline) are ignored; spaces and tabs around fields are allowed;
// "\r\n" line ends are accepted. Every row must have the same number of fields and every field
// must be a finite number (strtod syntax).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "torusml/ml/matrix.h"

namespace torusml::deploy {

/// The matrix of CSV `text`. `source` names the text in messages (e.g. the file name). Throws
/// InvalidArgument naming the source and the 1-based line number for an empty field, a field
/// that is not a finite number, a row with another field count than the first, or a text
/// without any data row ("...: write one sample per line, values separated by commas").
ml::Matrix parse_csv_matrix(std::string_view text, const std::string& source);

/// The matrix as CSV text: one line per row, values with 17 significant digits (exact round
/// trip through parse_csv_matrix), no header.
std::string format_csv_matrix(const ml::Matrix& m);

/// One line per row of fields, comma-separated (e.g. class labels, one column per target).
std::string format_csv_rows(const std::vector<std::vector<std::string>>& rows);

}  // namespace torusml::deploy
