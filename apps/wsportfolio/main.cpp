#include "cli/main.hpp"

int main(int argc, char** argv) { return wsp::cli::main(argc, argv); }
