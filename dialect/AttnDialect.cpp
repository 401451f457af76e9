//===- AttnDialect.cpp - attn dialect ---------------------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnDialect.h"
#include "dialect/AttnOps.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

#include "dialect/AttnDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/AttnAttrs.cpp.inc"

void AttnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/AttnOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/AttnAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// #attn.rope
//===----------------------------------------------------------------------===//

LogicalResult
RopeAttr::verify(function_ref<InFlightDiagnostic()> emitError, RopeStyle,
                 APFloat thetaF, int64_t dims, RopeScaling scaling,
                 APFloat factorF, int64_t originalContext, APFloat betaFastF,
                 APFloat betaSlowF, APFloat lowFreqFactorF,
                 APFloat highFreqFactorF, APFloat attentionFactorF) {
  double theta = thetaF.convertToDouble(), factor = factorF.convertToDouble();
  double betaFast = betaFastF.convertToDouble(),
         betaSlow = betaSlowF.convertToDouble();
  double lowFreqFactor = lowFreqFactorF.convertToDouble(),
         highFreqFactor = highFreqFactorF.convertToDouble();
  double attentionFactor = attentionFactorF.convertToDouble();
  if (!(theta > 1.0) || !std::isfinite(theta))
    return emitError() << "rope theta must be a finite number above 1, got "
                       << theta;
  if (dims < 0 || dims % 2)
    return emitError() << "rope dims must be even and not negative (0: all "
                          "channels), got "
                       << dims;
  if (!(factor > 0.0) || !std::isfinite(factor))
    return emitError() << "rope factor must be a finite positive number, got "
                       << factor;
  if ((scaling == RopeScaling::yarn || scaling == RopeScaling::llama3) &&
      originalContext <= 0)
    return emitError() << "rope scaling " << stringifyRopeScaling(scaling)
                       << " needs original_context (the trained context "
                          "length)";
  if (scaling == RopeScaling::yarn && !(betaFast > betaSlow && betaSlow > 0))
    return emitError() << "rope yarn needs beta_fast > beta_slow > 0";
  if (scaling == RopeScaling::llama3 &&
      !(highFreqFactor > lowFreqFactor && lowFreqFactor > 0))
    return emitError()
           << "rope llama3 needs high_freq_factor > low_freq_factor > 0";
  if (attentionFactor < 0 || !std::isfinite(attentionFactor))
    return emitError() << "rope attention_factor must not be negative";
  return success();
}

SmallVector<double> RopeAttr::getChannelFrequencies(int64_t headDim) const {
  int64_t r = getRotatedDims(headDim), half = r / 2;
  double theta = getTheta().convertToDouble(), s = getFactor().convertToDouble();
  if (getScaling() == RopeScaling::ntk && r > 2)
    theta *= std::pow(s, double(r) / double(r - 2));
  SmallVector<double> pair(half);
  for (int64_t k = 0; k < half; ++k)
    pair[k] = std::pow(theta, -2.0 * double(k) / double(r));
  switch (getScaling()) {
  case RopeScaling::none:
  case RopeScaling::ntk:
    break;
  case RopeScaling::linear:
    for (double &f : pair)
      f /= s;
    break;
  case RopeScaling::yarn: {
    // The pair index at which a frequency turns `rotations` times over the
    // trained context; pairs below `low` keep their frequency, above `high`
    // are interpolated, a linear ramp between.
    double ctx = double(getOriginalContext());
    auto pairAt = [&](double rotations) {
      return double(r) * std::log(ctx / (rotations * 2 * M_PI)) /
             (2 * std::log(theta));
    };
    double low = std::max(std::floor(pairAt(getBetaFast().convertToDouble())), 0.0);
    double high = std::min(std::ceil(pairAt(getBetaSlow().convertToDouble())), double(r - 1));
    if (low == high)
      high += 0.001;
    for (int64_t k = 0; k < half; ++k) {
      double ramp =
          std::clamp((double(k) - low) / (high - low), 0.0, 1.0);
      double keep = 1.0 - ramp;
      pair[k] = pair[k] / s * (1.0 - keep) + pair[k] * keep;
    }
    break;
  }
  case RopeScaling::llama3: {
    double ctx = double(getOriginalContext());
    double lowWave = ctx / getLowFreqFactor().convertToDouble();
    double highWave = ctx / getHighFreqFactor().convertToDouble();
    for (double &f : pair) {
      double wave = 2 * M_PI / f;
      if (wave > lowWave) {
        f /= s;
      } else if (wave >= highWave) {
        double smooth = (ctx / wave - getLowFreqFactor().convertToDouble()) /
                        (getHighFreqFactor().convertToDouble() - getLowFreqFactor().convertToDouble());
        f = (1.0 - smooth) * f / s + smooth * f;
      }
    }
    break;
  }
  }
  SmallVector<double> freq(headDim, 0.0);
  for (int64_t d = 0; d < r; ++d) {
    bool first = getStyle() == RopeStyle::llama ? d < half : d % 2 == 0;
    int64_t k = getStyle() == RopeStyle::llama ? d % half : d / 2;
    freq[d] = first ? -pair[k] : pair[k];
  }
  return freq;
}

int64_t RopeAttr::getPartner(int64_t d, int64_t headDim) const {
  int64_t r = getRotatedDims(headDim);
  if (d >= r)
    return d;
  if (getStyle() == RopeStyle::llama)
    return (d + r / 2) % r;
  return d % 2 ? d - 1 : d + 1;
}

double RopeAttr::getMagnitude() const {
  if (getAttentionFactor().convertToDouble() > 0)
    return getAttentionFactor().convertToDouble();
  if (getScaling() == RopeScaling::yarn && getFactor().convertToDouble() > 1)
    return 0.1 * std::log(getFactor().convertToDouble()) + 1.0;
  return 1.0;
}
