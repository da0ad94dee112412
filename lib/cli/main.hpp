#pragma once

namespace wsp::cli {

// The whole program: parses the command line, runs one command, maps every
// failure to the documented exit code.
int main(int argc, char** argv);

}  // namespace wsp::cli
