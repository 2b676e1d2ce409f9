# This file is NOT a second build. The addon is built by CMake (CMakeLists.txt) through cmake-js,
# because LibTorch ships a CMake package config and no gyp equivalent. Tools that only know node-gyp
# (`node-gyp rebuild`) land here, and the single action below hands over to the same CMake build.
# package.json sets "gypfile": false so npm never runs this implicitly.
{
  "targets": [
    {
      "target_name": "reviewkd_cmake",
      "type": "none",
      "actions": [
        {
          "action_name": "build_with_cmake_js",
          "inputs": ["CMakeLists.txt"],
          "outputs": ["build/Release/reviewkd.node"],
          "action": ["node", "scripts/setup.js", "--native"]
        }
      ]
    }
  ]
}
