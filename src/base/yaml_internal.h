// YAML helpers shared by the configuration loaders (base, server).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "base/base.h"

namespace mxsec {

// Loads a YAML file: kIo when it cannot be read, kInvalidArgument naming
// "FILE:LINE: reason" when it does not parse.
Result<YAML::Node> LoadYamlFile(const std::string& path);

// "FILE:LINE" of a node, for error messages.
std::string YamlWhere(const std::string& path, const YAML::Node& node);

}  // namespace mxsec
