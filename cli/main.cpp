#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"horizons: the Cosmic Horizons event backbone"};
  app.require_subcommand(1);
  int result = horizons::cli::exit_ok;
  horizons::cli::add_commands(app, result);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : horizons::cli::exit_usage;
  }
  return result;
}
