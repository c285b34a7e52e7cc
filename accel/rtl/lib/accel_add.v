// Elementwise add of two pixel streams (a SqueezeNet bypass: the fire's output A plus its input
// or its 1x1 bypass conv B), exactly as the golden add (accel/core/kinds.py add): each code is
// sign- or zero-extended to ACC_W bits and aligned to the finer scale by an exact left shift
// (SHA, SHB), the two are summed, and accel_requant rounds (half to even) by SHIFT, applies ReLU
// if asked and saturates to [LO, HI]. A beat is taken when both inputs are valid and the output
// register is free; TLAST comes from A (both streams carry the same image).
`default_nettype none
module accel_add #(
    parameter C        = 8,
    parameter BA       = 8,  parameter SA = 0,  parameter SHA = 0,   // A: bits, signed, shift
    parameter BB       = 8,  parameter SB = 0,  parameter SHB = 0,   // B: bits, signed, shift
    parameter ACC_W    = 12,    // holds +-(max|a| << SHA + max|b| << SHB), and >= SHIFT + 2
    parameter SHIFT    = 0,     // acc_frac - out_frac (negative: an exact left shift)
    parameter RELU     = 0,
    parameter OUT_BITS = 8,
    parameter LO       = 0,
    parameter HI       = 255
) (
    input  wire                  clk,
    input  wire                  rst_n,
    input  wire [C*BA-1:0]       a_data,
    input  wire                  a_last,
    input  wire                  a_valid,
    output wire                  a_ready,
    input  wire [C*BB-1:0]       b_data,
    input  wire                  b_last,   // unused: A's TLAST frames the output
    input  wire                  b_valid,
    output wire                  b_ready,
    output reg  [C*OUT_BITS-1:0] m_data,
    output reg                   m_last,
    output reg                   m_valid,
    input  wire                  m_ready
);
    wire go = a_valid && b_valid && (!m_valid || m_ready);
    assign a_ready = go;
    assign b_ready = go;
    wire [C*OUT_BITS-1:0] sum_codes;
    genvar i;
    generate
        for (i = 0; i < C; i = i + 1) begin : g_ch
            wire [BA-1:0] va = a_data[i*BA +: BA];
            wire [BB-1:0] vb = b_data[i*BB +: BB];
            // each input widened by its own signedness (generate-time choice: a ?: between a
            // signed and an unsigned operand would make both unsigned)
            wire [ACC_W-1:0] ea = (SA != 0) ? {{ACC_W{va[BA-1]}}, va} : {{ACC_W{1'b0}}, va};
            wire [ACC_W-1:0] eb = (SB != 0) ? {{ACC_W{vb[BB-1]}}, vb} : {{ACC_W{1'b0}}, vb};
            wire signed [ACC_W-1:0] acc = (ea << SHA) + (eb << SHB);
            accel_requant #(.IN_W(ACC_W), .SHIFT(SHIFT), .RELU(RELU), .OUT_W(OUT_BITS),
                            .LO(LO), .HI(HI))
                u_rq (.acc(acc), .code(sum_codes[i*OUT_BITS +: OUT_BITS]));
        end
    endgenerate
    always @(posedge clk) if (go) begin
        m_data <= sum_codes; m_last <= a_last;
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) m_valid <= 1'b0;
        else if (go) m_valid <= 1'b1;
        else if (m_ready) m_valid <= 1'b0;
    end
endmodule
`default_nettype wire
