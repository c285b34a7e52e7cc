// Simulation-only DMA model around accel_top for long runs (hundreds of images): it streams the
// input words from tb_in.mem with pseudo-random VALID gaps, takes the outputs with pseudo-random
// READY backpressure, both AXI4-Stream legal (VALID and data held until accepted), and writes the
// output words and each image's latency/done cycle to .mem files. cocotb starts it and waits for
// DONE, so no Python runs per clock cycle. Settings by plusargs: +images=N +gap=P +bp=P +seed=S
// (P in percent). Progress for accel.rtl.sim, which polls the file: a line "<images out> <cycle>"
// in tb_progress.txt per image and every 4096 cycles.
// A design with weights in DDR (ACCEL_DDR defined): weights_base = +ddr_base=<hex> (default
// 10000000) and one accel_tb_ddr per AXI read port, from the includes accel.rtl.sim generates
// per design (accel_tb_ddr_models.vh: wires and models; accel_tb_ddr_ports.vh: the top's ports).
`timescale 1ns/1ps
`default_nettype none
module accel_tb_dma #(
    parameter WORDS      = 196,   // input words per image
    parameter OUT_WORDS  = 10,    // output words per image
    parameter MAX_IMAGES = 10000
) (
    input  wire ap_clk,
    input  wire ap_rst_n,
    output reg  done
);
    reg [31:0] in_mem  [0:WORDS*MAX_IMAGES-1];
    reg [31:0] out_mem [0:OUT_WORDS*MAX_IMAGES-1];
    reg [31:0] lat_mem [0:MAX_IMAGES-1];
    reg [31:0] cyc_mem [0:MAX_IMAGES-1];
    integer images, gap, bp, seed, progress;
    initial begin
        progress = $fopen("tb_progress.txt", "w");
        if (!$value$plusargs("images=%d", images)) images = 1;
        if (!$value$plusargs("gap=%d", gap)) gap = 0;
        if (!$value$plusargs("bp=%d", bp)) bp = 0;
        if (!$value$plusargs("seed=%d", seed)) seed = 1;
        $readmemh("tb_in.mem", in_mem, 0, WORDS*images-1);
    end
    // xorshift32 streams for the gaps and the backpressure
    reg [31:0] r1, r2;
    wire [31:0] r1n = r1 ^ (r1 << 13) ^ ((r1 ^ (r1 << 13)) >> 17);
    wire [31:0] r1x = r1n ^ (r1n << 5);
    wire [31:0] r2n = r2 ^ (r2 << 13) ^ ((r2 ^ (r2 << 13)) >> 17);
    wire [31:0] r2x = r2n ^ (r2n << 5);

    reg  [31:0] s_data;
    reg         s_valid, s_last;
    wire        s_ready;
    wire [31:0] m_data;
    wire [3:0]  m_keep;
    wire        m_valid, m_last;
    reg         m_ready;
    integer wi, oi, img_out, cycle, per_word;
`ifdef ACCEL_DDR
    reg [31:0] ddr_base;
    initial if (!$value$plusargs("ddr_base=%h", ddr_base)) ddr_base = 32'h10000000;
`include "accel_tb_ddr_models.vh"
`endif
    accel_top u_top (
        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
`ifdef ACCEL_DDR
`include "accel_tb_ddr_ports.vh"
`endif
        .s_axis_tdata(s_data), .s_axis_tlast(s_last), .s_axis_tvalid(s_valid),
        .s_axis_tready(s_ready),
        .m_axis_tdata(m_data), .m_axis_tkeep(m_keep), .m_axis_tlast(m_last),
        .m_axis_tvalid(m_valid), .m_axis_tready(m_ready));

    reg [31:0] start_mem [0:MAX_IMAGES-1];
    integer img_in;
    wire take = s_valid && s_ready;
    wire [31:0] nxt = take ? wi + 1 : wi;   // the word to present next
    always @(posedge ap_clk or negedge ap_rst_n) begin
        if (!ap_rst_n) begin
            r1 <= seed * 32'h9e3779b9 + 1; r2 <= seed * 32'h85ebca6b + 7;
            s_valid <= 1'b0; s_last <= 1'b0; s_data <= 0; m_ready <= 1'b0;
            wi <= 0; oi <= 0; img_in <= 0; img_out <= 0; cycle <= 0; done <= 1'b0;
        end else begin
            cycle <= cycle + 1;
            r1 <= r1x; r2 <= r2x;
            if (cycle % 4096 == 0 || (m_valid && m_ready && m_last)) begin
                $fdisplay(progress, "%0d %0d", img_out + (m_valid && m_ready && m_last), cycle);
                $fflush(progress);
            end
            if (take && (wi % WORDS) == 0) begin
                start_mem[img_in] <= cycle;
                img_in <= img_in + 1;
            end
            if (!s_valid || s_ready) begin
                wi <= nxt;
                if (nxt < WORDS * images && (r1x % 100) >= gap) begin
                    s_valid <= 1'b1;
                    s_data <= in_mem[nxt];
                    s_last <= (nxt % WORDS) == WORDS - 1;
                end else begin
                    s_valid <= 1'b0;
                end
            end
            m_ready <= (r2x % 100) >= bp;
            if (m_valid && m_ready) begin
                out_mem[oi] <= m_data;
                oi <= oi + 1;
                if (m_last) begin
                    lat_mem[img_out] <= cycle - start_mem[img_out] + 1;
                    cyc_mem[img_out] <= cycle;
                    img_out <= img_out + 1;
                    if (img_out + 1 == images) done <= 1'b1;
                end
            end
        end
    end
    always @(posedge done) begin
        $writememh("tb_out.mem", out_mem, 0, OUT_WORDS*images-1);
        $writememh("tb_lat.mem", lat_mem, 0, images-1);
        $writememh("tb_cyc.mem", cyc_mem, 0, images-1);
    end
endmodule
`default_nettype wire
