// Numerical check of the CPU kernels without Python, for cross-compiled builds run under QEMU
// (tools/aarch64/check.sh). Two modes:
//   kernel_check run OUT.bin      runs the kernels on fixed inputs, checks each float32 result
//                                 against the float64 path (and the GEMM / log / exp / DFT against
//                                 naive float64 references), writes every float32 result to OUT.bin
//   kernel_check compare A B      max difference between two OUT.bin files (x86 vs aarch64),
//                                 relative to the largest magnitude of each result
// Exit status 1 when a check exceeds its tolerance. Errors are max |a - ref| / max |ref| per result.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "rppg/basis.hpp"
#include "rppg/gemm.hpp"
#include "rppg/kernels.hpp"
#include "rppg/vecmath.hpp"

using namespace rppg;
using VecD = std::vector<double>;

namespace {

constexpr double kF32Tol = 2e-4;  // float32 vs float64, as tests/spectral (F32_RTOL)
int g_failures = 0;
std::map<std::string, VecD> g_results;  // name -> float32 result (as double), written to OUT.bin

// Deterministic inputs, identical on every architecture (integer LCG).
struct Lcg {
  uint64_t s;
  double next() {  // uniform in [-1, 1)
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
  }
};

template <class A, class B>
double scaled_err(const A& a, const B& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num = std::max(num, std::fabs(double(a[i]) - double(ref[i])));
    den = std::max(den, std::fabs(double(ref[i])));
  }
  return num / std::max(den, 1e-300);
}

template <class A, class B>
void check(const std::string& name, const A& got, const B& ref, double tol = kF32Tol) {
  const double e = scaled_err(got, ref);
  const bool ok = e <= tol && std::isfinite(e);
  if (!ok) ++g_failures;
  std::printf("  %-34s err %.3e  (tol %.0e)  %s\n", name.c_str(), e, tol, ok ? "ok" : "FAIL");
  g_results[name] = VecD(got.begin(), got.end());
}

std::vector<float> to_f(const VecD& v) { return std::vector<float>(v.begin(), v.end()); }

void check_gemm() {
  const int m = 48, N = 64, Kd = 300;  // Kd > the 256 depth block: exercises the accumulate pass
  Lcg g{1};
  VecD A(m * Kd), B(Kd * N), ref(m * N, 0.0);
  for (double& v : A) v = g.next();
  for (double& v : B) v = g.next();
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < N; ++j)
      for (int k = 0; k < Kd; ++k) ref[i * N + j] += A[i * Kd + k] * B[k * N + j];
  std::vector<float> Ap(m * Kd), Bp(Kd * N), Af = to_f(A), C(m * N), Cr(m * N);
  for (int i = 0; i < m; ++i)
    for (int k = 0; k < Kd; ++k) Ap[(i / kMR) * Kd * kMR + k * kMR + i % kMR] = float(A[i * Kd + k]);
  for (int k = 0; k < Kd; ++k)
    for (int j = 0; j < N; ++j) Bp[(j / 16) * Kd * 16 + k * 16 + j % 16] = float(B[k * N + j]);
  gemm_packed(m, N, Kd, Ap.data(), Bp.data(), C.data(), N);
  gemm_rows(m, N, Kd, Af.data(), Kd, Bp.data(), Cr.data(), N);
  check("gemm_packed vs f64", C, ref, 1e-5);
  check("gemm_rows vs f64", Cr, ref, 1e-5);
}

void check_log_exp() {
  VecD xs;
  for (int i = 0; i < 2001; ++i) xs.push_back(std::exp(-80.0 + 160.0 * i / 2000));  // 1.8e-35 .. 5.5e34
  VecD es;
  for (int i = 0; i < 2001; ++i) es.push_back(-87.0 + 175.5 * i / 2000);  // -87 .. 88.5
  std::vector<float> lx = to_f(xs), ex = to_f(es);
  log_inplace(lx.data(), static_cast<int>(lx.size()));
  exp_inplace(ex.data(), static_cast<int>(ex.size()));
  double el = 0, ee = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double l = std::log(double(float(xs[i])));
    el = std::max(el, std::fabs(lx[i] - l) / std::max(std::fabs(l), 1.0));  // abs near log = 0
    const double e = std::exp(double(float(es[i])));
    ee = std::max(ee, std::fabs(ex[i] - e) / e);
  }
  const bool ok_l = el <= 3e-7, ok_e = ee <= 3e-7;
  g_failures += !ok_l + !ok_e;
  std::printf("  %-34s err %.3e  (tol 3e-07)  %s\n", "log_inplace vs f64 (rel)", el, ok_l ? "ok" : "FAIL");
  std::printf("  %-34s err %.3e  (tol 3e-07)  %s\n", "exp_inplace vs f64 (rel)", ee, ok_e ? "ok" : "FAIL");
  g_results["log_inplace"] = VecD(lx.begin(), lx.end());
  g_results["exp_inplace"] = VecD(ex.begin(), ex.end());
  // special values follow std::log / std::exp
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  const float sp[8] = {0.0f, -1.0f, inf, nan, 1e-40f, -inf, 1.0f, 2.0f};
  std::vector<float> ls(sp, sp + 8), es2(sp, sp + 8);
  log_inplace(ls.data(), 8);
  exp_inplace(es2.data(), 8);
  bool ok_s = true;
  for (int i = 0; i < 8; ++i) {
    const float l = std::log(sp[i]), e = std::exp(sp[i]);
    const bool same_l = (std::isnan(l) && std::isnan(ls[i])) || l == ls[i] || std::fabs(l - ls[i]) <= 3e-7f * std::fabs(l);
    const bool same_e = (std::isnan(e) && std::isnan(es2[i])) || e == es2[i] || std::fabs(e - es2[i]) <= 3e-7f * std::fabs(e);
    ok_s = ok_s && same_l && same_e;
  }
  g_failures += !ok_s;
  std::printf("  %-34s %s\n", "log/exp special values", ok_s ? "ok" : "FAIL");
}

void check_kl_row() {
  const int n = 64;
  Lcg g{7};
  VecD r[4];
  for (VecD& v : r) {
    v.resize(n);
    for (double& x : v) x = g.next();
  }
  const double eps = 1e-8;
  VecD hs(2 * n), ht(2 * n), pb(2 * n);
  const double loss = kl_row(r[0].data(), r[1].data(), r[2].data(), r[3].data(), n, eps, hs.data(), ht.data(), pb.data());
  std::vector<float> f[4] = {to_f(r[0]), to_f(r[1]), to_f(r[2]), to_f(r[3])};
  std::vector<float> hsf(2 * n), htf(2 * n), pbf(2 * n);
  const float lf = kl_row(f[0].data(), f[1].data(), f[2].data(), f[3].data(), n, float(eps), hsf.data(),
                          htf.data(), pbf.data());
  check("kl_row loss", std::vector<float>{lf}, VecD{loss});
  check("kl_row d/d student", hsf, hs);
  check("kl_row d/d teacher", htf, ht);
}

// Naive float64 periodogram at the band frequencies (Hann, not periodic, demeaned): the anchor for
// the basis and the folded DFT.
VecD naive_psd(const VecD& x, int B, int T, const VecD& freqs, double fs) {
  const int K = static_cast<int>(freqs.size());
  VecD out(B * K);
  for (int b = 0; b < B; ++b) {
    double mean = 0;
    for (int t = 0; t < T; ++t) mean += x[b * T + t];
    mean /= T;
    for (int k = 0; k < K; ++k) {
      double re = 0, im = 0;
      for (int t = 0; t < T; ++t) {
        const double w = 0.5 - 0.5 * std::cos(2 * M_PI * t / (T - 1));
        const double a = 2 * M_PI * freqs[k] * t / fs;
        re += w * (x[b * T + t] - mean) * std::cos(a);
        im += w * (x[b * T + t] - mean) * std::sin(a);
      }
      out[b * K + k] = re * re + im * im;
    }
  }
  return out;
}

void check_pipelines() {
  const int B = 37, T = 301, K = 45;  // B not a multiple of the block rows, T odd (middle sample)
  const double fs = 30.0;
  VecD freqs(K);
  for (int k = 0; k < K; ++k) freqs[k] = 0.7 + 2.3 * k / (K - 1);
  Lcg g{42};
  VecD s(B * T), t(B * T), go(B * K), gl(B), gc(B * 3);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < T; ++i) {
      s[b * T + i] = std::sin(2 * M_PI * (1.0 + 0.02 * b) * i / fs) + 0.3 * g.next() + 2.0;
      t[b * T + i] = std::sin(2 * M_PI * (1.1 + 0.02 * b) * i / fs + 0.5) + 0.1 * g.next();
    }
  for (double& v : go) v = g.next();
  for (double& v : gl) v = g.next();
  for (double& v : gc) v = g.next();
  const auto bd = get_basis<double>(T, freqs, fs, Window::Hann, false);
  const auto bf = get_basis<float>(T, freqs, fs, Window::Hann, false);
  const std::vector<float> sf = to_f(s), tf = to_f(t), gof = to_f(go), glf = to_f(gl), gcf = to_f(gc);
  const long BK = static_cast<long>(B) * K, BT = static_cast<long>(B) * T;

  VecD P(BK), re(BK), im(BK), res(BK), ims(BK), ret(BK), imt(BK);
  std::vector<float> Pf(BK), ref_(BK), imf(BK), resf(BK), imsf(BK), retf(BK), imtf(BK);
  band_psd_fwd<double>(s.data(), B, *bd, true, false, 0.0, P.data(), re.data(), im.data());
  check("band_psd f64 vs naive DFT", P, naive_psd(s, B, T, freqs, fs), 1e-10);
  band_psd_fwd<float>(sf.data(), B, *bf, true, false, 0.0f, Pf.data(), ref_.data(), imf.data());
  check("band_psd_fwd", Pf, P);
  VecD pn(BK), gx(BT);
  std::vector<float> pnf(BK), gxf(BT);
  band_psd_fwd<double>(s.data(), B, *bd, true, true, 1e-8, pn.data(), re.data(), im.data());
  band_psd_fwd<float>(sf.data(), B, *bf, true, true, 1e-8f, pnf.data(), ref_.data(), imf.data());
  check("band_psd_fwd normalized", pnf, pn);
  band_psd_bwd<double>(go.data(), pn.data(), re.data(), im.data(), B, *bd, true, true, 1e-8, gx.data());
  band_psd_bwd<float>(gof.data(), pnf.data(), ref_.data(), imf.data(), B, *bf, true, true, 1e-8f, gxf.data());
  check("band_psd_bwd", gxf, gx);

  VecD loss(B), ps(BK), pt(BK), gs(BT), gt(BT);
  std::vector<float> lossf(B), psf(BK), ptf(BK), gsf(BT), gtf(BT);
  psd_kl_fwd<double>(s.data(), t.data(), B, *bd, true, 1e-8, loss.data(), ps.data(), pt.data(), res.data(),
                     ims.data(), ret.data(), imt.data());
  psd_kl_fwd<float>(sf.data(), tf.data(), B, *bf, true, 1e-8f, lossf.data(), psf.data(), ptf.data(),
                    resf.data(), imsf.data(), retf.data(), imtf.data());
  check("psd_kl_fwd loss", lossf, loss);
  psd_kl_bwd<double>(gl.data(), ps.data(), pt.data(), res.data(), ims.data(), ret.data(), imt.data(), B, *bd,
                     true, 1e-8, gs.data(), gt.data());
  psd_kl_bwd<float>(glf.data(), psf.data(), ptf.data(), resf.data(), imsf.data(), retf.data(), imtf.data(), B,
                    *bf, true, 1e-8f, gsf.data(), gtf.data());
  check("psd_kl_bwd d/d student", gsf, gs);
  check("psd_kl_bwd d/d teacher", gtf, gt);
  psd_kl_fused_fwd_grad<double>(s.data(), t.data(), B, *bd, true, 1e-8, loss.data(), 0.5, gs.data(), gt.data());
  psd_kl_fused_fwd_grad<float>(sf.data(), tf.data(), B, *bf, true, 1e-8f, lossf.data(), 0.5f, gsf.data(),
                               gtf.data());
  check("psd_kl_fused loss", lossf, loss);
  check("psd_kl_fused d/d student", gsf, gs);
  check("psd_kl_fused d/d teacher", gtf, gt);

  VecD comps(B * 3), cen(B), ratio(B), grs(BT);
  std::vector<float> compsf(B * 3), cenf(B), ratiof(B), grsf(BT);
  rpm_fwd<double>(s.data(), t.data(), B, *bd, true, comps.data(), cen.data(), ratio.data(), res.data(),
                  ims.data(), ret.data(), imt.data());
  rpm_fwd<float>(sf.data(), tf.data(), B, *bf, true, compsf.data(), cenf.data(), ratiof.data(), resf.data(),
                 imsf.data(), retf.data(), imtf.data());
  check("rpm_fwd components", compsf, comps);
  check("rpm_fwd teacher centroid", cenf, cen);
  rpm_bwd<double>(gc.data(), res.data(), ims.data(), ret.data(), imt.data(), B, *bd, true, grs.data());
  rpm_bwd<float>(gcf.data(), resf.data(), imsf.data(), retf.data(), imtf.data(), B, *bf, true, grsf.data());
  check("rpm_bwd", grsf, grs);

  VecD fd(B), ff(B);
  peak_frequency_fwd<double>(s.data(), B, *bd, freqs.data(), true, fd.data());
  peak_frequency_fwd<float>(sf.data(), B, *bf, freqs.data(), true, ff.data());
  check("peak_frequency (Hz)", ff, fd, 1e-4);
}

int write_results(const char* path) {
  FILE* f = std::fopen(path, "wb");
  if (!f) return std::perror(path), 1;
  for (const auto& [name, v] : g_results) {
    const uint32_t ln = static_cast<uint32_t>(name.size()), n = static_cast<uint32_t>(v.size());
    std::fwrite(&ln, 4, 1, f);
    std::fwrite(name.data(), 1, ln, f);
    std::fwrite(&n, 4, 1, f);
    std::fwrite(v.data(), 8, n, f);
  }
  return std::fclose(f) != 0;
}

bool read_results(const char* path, std::map<std::string, VecD>& out) {
  FILE* f = std::fopen(path, "rb");
  if (!f) return std::perror(path), false;
  uint32_t ln, n;
  while (std::fread(&ln, 4, 1, f) == 1) {
    std::string name(ln, ' ');
    if (std::fread(&name[0], 1, ln, f) != ln || std::fread(&n, 4, 1, f) != 1) break;
    VecD v(n);
    if (std::fread(v.data(), 8, n, f) != n) break;
    out[name] = std::move(v);
  }
  std::fclose(f);
  return !out.empty();
}

int compare(const char* a_path, const char* b_path) {
  std::map<std::string, VecD> a, b;
  if (!read_results(a_path, a) || !read_results(b_path, b)) return 1;
  double worst = 0;
  std::printf("max |a - b| / max |a| per result (a = %s, b = %s):\n", a_path, b_path);
  for (const auto& [name, va] : a) {
    const auto it = b.find(name);
    if (it == b.end() || it->second.size() != va.size()) {
      std::printf("  %-34s missing or different size in b  FAIL\n", name.c_str());
      ++g_failures;
      continue;
    }
    double num = 0, den = 0, maxabs = 0;
    for (size_t i = 0; i < va.size(); ++i) {
      const double d = std::fabs(va[i] - it->second[i]);
      if (std::isfinite(d)) num = std::max(num, d);
      den = std::max(den, std::fabs(va[i]));
      maxabs = std::max(maxabs, d);
    }
    const double e = num / std::max(den, 1e-300);
    worst = std::max(worst, e);
    const bool ok = e <= kF32Tol;
    g_failures += !ok;
    std::printf("  %-34s %.3e  (max abs %.3e)  %s\n", name.c_str(), e, maxabs, ok ? "ok" : "FAIL");
  }
  std::printf("worst: %.3e (tol %.0e)\n", worst, kF32Tol);
  return g_failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "compare") == 0) return compare(argv[2], argv[3]);
  if (argc != 3 || std::strcmp(argv[1], "run") != 0) {
    std::fprintf(stderr, "usage: %s run OUT.bin | %s compare A.bin B.bin\n", argv[0], argv[0]);
    return 2;
  }
  std::printf("kernel_check: simd=%s\n", simd_name());
  check_gemm();
  check_log_exp();
  check_kl_row();
  check_pipelines();
  if (write_results(argv[2])) return 1;
  std::printf("%s: %d check(s) failed\n", g_failures ? "FAIL" : "PASS", g_failures);
  return g_failures ? 1 : 0;
}
