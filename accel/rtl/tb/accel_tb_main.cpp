// Native Verilator main for accel_tb_main.v: toggles the clock until the testbench's $finish
// (DONE or its timeout). No VPI, no Python per clock.
#include <memory>

#include "Vaccel_tb_main.h"
#include "verilated.h"

int main(int argc, char** argv) {
    const std::unique_ptr<VerilatedContext> ctx{new VerilatedContext};
    ctx->commandArgs(argc, argv);
    const std::unique_ptr<Vaccel_tb_main> top{new Vaccel_tb_main{ctx.get(), "TOP"}};
    top->ap_clk = 0;
    top->eval();
    while (!ctx->gotFinish()) {
        ctx->timeInc(5);  // half a 10 ns period
        top->ap_clk = !top->ap_clk;
        top->eval();
    }
    top->final();
    return 0;
}
