#pragma once

#include <string>
#include <vector>

namespace wsp::net {

// One HTTP header or query parameter as written, in the order given: both may
// repeat, and a signature depends on that order.
struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

// A query parameter, decoded (the encoder in sigv4.hpp writes it on the wire).
struct QueryParam {
  std::string name;
  std::string value;
};
using QueryParams = std::vector<QueryParam>;

}  // namespace wsp::net
