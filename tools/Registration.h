//===- Registration.h - dialects and passes of the attn tools ---*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TOOLS_REGISTRATION_H
#define ATTN_TOOLS_REGISTRATION_H

namespace mlir {
class DialectRegistry;
namespace attn {

/// Registers the dialects (and their interface models) the attn tools use.
void registerAttnDialects(DialectRegistry &registry);

/// Registers the attn passes and pipelines and the upstream passes they use.
void registerAttnPassesAndPipelines();

} // namespace attn
} // namespace mlir

#endif // ATTN_TOOLS_REGISTRATION_H
